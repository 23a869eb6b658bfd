"""Staff send notifications here; saving one delivers it live, through the services."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypedDict, cast

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.widgets import FilteredSelectMultiple
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db.models import Count, Exists, OuterRef, QuerySet
from django.http import HttpRequest
from django.utils.html import format_html

from common.admin import ReadOnlyTabularInline
from notifications import services
from notifications.models import Audience, Kind, Notification, Read, Recipient
from realtime.errors import ActionError

if TYPE_CHECKING:
    # A development requirement (with django-stubs): for the checker only.
    from django_stubs_ext import WithAnnotations

    class _IsRead(TypedDict):
        is_read: bool

    class _ReadTotal(TypedDict):
        read_total: int


class WrappedFilteredSelectMultiple(FilteredSelectMultiple):
    """The two-box picker in a box of its own. Its script puts the picker first in the
    select's parent: for a model's many-to-many field the admin's wrapper is that parent;
    for a form's own field it was the row, and the row's "Users:" label ended up after
    the picker."""

    def render(self, *args: Any, **kwargs: Any) -> Any:
        return format_html(
            '<div class="related-widget-wrapper">{}</div>', super().render(*args, **kwargs)
        )


class NotificationForm(forms.ModelForm):
    users = forms.ModelMultipleChoiceField(
        queryset=get_user_model().objects.filter(is_active=True).order_by("username"),
        required=False,
        widget=WrappedFilteredSelectMultiple("users", is_stacked=False),
        help_text="For “chosen users”.",
    )
    group = forms.ModelChoiceField(
        queryset=Group.objects.order_by("name"), required=False, help_text="For “a group”."
    )

    class Meta:
        model = Notification
        fields = ["title", "body", "level", "link", "audience", "users", "group"]
        widgets = {"audience": forms.RadioSelect}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # A model field without a default gets a blank choice, which as a radio button
        # read "---------" and was picked at first: every notification has an audience.
        if "audience" in self.fields:  # not on a sent one's page: read-only there
            audience = cast("forms.ChoiceField", self.fields["audience"])
            audience.choices = Audience.choices

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data  # what super().clean() returns; its stub says it may be None
        if self.instance.pk is not None:
            return data  # a sent notification is not edited (the admin offers no Save)
        audience = data.get("audience")
        if audience == Audience.USERS and not data.get("users"):
            self.add_error("users", "Choose at least one user.")
        if audience == Audience.GROUP and data.get("group") is None:
            self.add_error("group", "Choose a group.")
        if self.errors:
            return data
        try:
            data.update(
                services.notification_clean(
                    title=data["title"],
                    body=data.get("body", ""),
                    level=data["level"],
                    link=data.get("link", ""),
                )
            )
        except ActionError as error:
            raise forms.ValidationError(error.message) from None
        return data


class RecipientInline(ReadOnlyTabularInline):
    """Per-recipient read state of a notification to chosen users or a group."""

    model = Recipient
    verbose_name_plural = "recipients and their read state"
    fields = ("user", "read")
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[WithAnnotations[Recipient, _IsRead]]:
        reads = Read.objects.filter(notification=OuterRef("notification"), user=OuterRef("user"))
        return (
            super()
            .get_queryset(request)
            .select_related("user")
            .annotate(is_read=Exists(reads))
            .order_by("user__username")
        )

    @admin.display(boolean=True)
    def read(self, recipient: WithAnnotations[Recipient, _IsRead]) -> bool:
        return recipient.is_read


class ReadInline(ReadOnlyTabularInline):
    """Who has read it, and when (for broadcasts this is the per-user state there is)."""

    model = Read
    verbose_name_plural = "read by"
    fields = ("user", "read_at")
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[Read]:
        return super().get_queryset(request).select_related("user").order_by("-read_at")


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    form = NotificationForm
    list_display = [
        "title",
        "level",
        "audience",
        "group",
        "recipients_count",
        "read_count",
        "created_by",
        "created_at",
    ]
    list_filter = ["kind", "level", "audience", "created_at"]
    search_fields = ["title", "body"]
    date_hierarchy = "created_at"
    actions = ["send_again"]

    def get_queryset(
        self, request: HttpRequest
    ) -> QuerySet[WithAnnotations[Notification, _ReadTotal]]:
        return (
            super()
            .get_queryset(request)
            .select_related("group", "created_by")
            .annotate(read_total=Count("reads", distinct=True))
        )

    @admin.display(description="read", ordering="read_total")
    def read_count(self, notification: WithAnnotations[Notification, _ReadTotal]) -> int:
        return notification.read_total

    def get_fields(self, request: HttpRequest, obj: Notification | None = None) -> tuple[str, ...]:
        if obj is None:
            return tuple(NotificationForm.Meta.fields)
        return (
            "title",
            "body",
            "level",
            "kind",
            "link",
            "audience",
            "group",
            "recipients_count",
            "created_by",
            "created_at",
        )

    def get_readonly_fields(
        self, request: HttpRequest, obj: Notification | None = None
    ) -> tuple[str, ...]:
        # A sent notification is a record: editing it would not reach anyone again.
        return self.get_fields(request, obj) if obj is not None else ()

    def has_change_permission(self, request: HttpRequest, obj: Notification | None = None) -> bool:
        # No Save on a sent one (its page is view-only; a POST to it is refused): the
        # list and its "send again" action stay with whoever may change notifications.
        if obj is not None:
            return False
        return super().has_change_permission(request)

    def get_inlines(self, request: HttpRequest, obj: Notification | None = None) -> list[Any]:
        if obj is None:
            return []
        if obj.audience in (Audience.USERS, Audience.GROUP):
            return [RecipientInline]
        return [ReadInline]

    def save_model(
        self, request: HttpRequest, obj: Notification, form: forms.ModelForm, change: bool
    ) -> None:
        if change:
            return
        data = form.cleaned_data
        audience = data["audience"]
        sent = services.notification_send(
            title=data["title"],
            body=data["body"],
            level=data["level"],
            link=data["link"],
            users=data["users"] if audience == Audience.USERS else (),
            group=data["group"] if audience == Audience.GROUP else None,
            to_all_users=audience == Audience.ALL_USERS,
            to_everyone=audience == Audience.EVERYONE,
            created_by=request.user,
            kind=Kind.STAFF,
        )
        # The admin goes on with ``obj`` (the log entry, the redirect): make it the row sent.
        obj.__dict__.update(sent.__dict__)

    def save_related(
        self, request: HttpRequest, form: forms.ModelForm, formsets: Any, change: bool
    ) -> None:
        """Recipients are written by the service, not by the form."""

    @admin.action(description="Send again to everyone the selected notifications were for")
    def send_again(self, request: HttpRequest, queryset: QuerySet[Notification]) -> None:
        count = 0
        for notification in queryset:
            services.notification_resend(notification=notification)
            count += 1
        self.message_user(request, f"Sent {count} notification(s) again.", messages.SUCCESS)
