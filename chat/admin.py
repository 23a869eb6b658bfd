"""Moderation in the admin. Deletes and mutes go through chat.services, so open
browsers see a deleted message disappear at once."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypedDict

from django.contrib import admin, messages
from django.db.models import Count, QuerySet
from django.http import HttpRequest
from django.utils.html import format_html

from chat import filetypes, selectors, services
from chat.models import Attachment, Block, Membership, Message, MessageEdit, Mute, Room

if TYPE_CHECKING:
    # A development requirement (with django-stubs): for the checker only.
    from django_stubs_ext import WithAnnotations

    class _MessageTotal(TypedDict):
        message_total: int


class MuteInline(admin.TabularInline):
    model = Mute
    fk_name = "room"
    extra = 0
    autocomplete_fields = ["user"]
    readonly_fields = ["created_by", "created_at"]


class MembershipInline(admin.TabularInline):
    """A room's members and their roles (a private room's audience; owners and
    moderators manage any room). Changes go through the services: live on every page."""

    model = Membership
    fk_name = "room"
    extra = 0
    autocomplete_fields = ["user"]
    readonly_fields = ["added_by", "created_at"]


@admin.register(Room)
class RoomAdmin(admin.ModelAdmin):
    list_display = [
        "title",
        "slug",
        "kind",
        "private",
        "retention_policy",
        "message_count",
        "created_at",
    ]
    list_filter = ["kind", "private"]
    search_fields = ["title", "slug", "description"]
    prepopulated_fields = {"slug": ["title"]}
    autocomplete_fields = ["group"]
    inlines = [MembershipInline, MuteInline]

    def get_queryset(self, request: HttpRequest) -> QuerySet[WithAnnotations[Room, _MessageTotal]]:
        return super().get_queryset(request).annotate(message_total=Count("messages"))

    @admin.display(description="retention")
    def retention_policy(self, room: Room) -> str:
        return room.retention_summary.removeprefix("This room keeps ").rstrip(".") or "everything"

    def save_model(self, request: HttpRequest, obj: Room, form: Any, change: bool) -> None:
        access = {"private", "group"} & set(form.changed_data)
        if change and access:
            before = Room.objects.get(pk=obj.pk)
            members, was_private = selectors.room_member_ids(room=before), before.private
        super().save_model(request, obj, form, change)
        if change and access:
            services.room_access_changed(room=obj, before=members, was_private=was_private)
        if change and {"retention", "retention_days"} & set(form.changed_data):
            removed = services.room_prune(room=obj)
            if removed:
                self.message_user(
                    request, f"Deleted {removed} message(s) the room no longer keeps."
                )

    @admin.display(description="messages", ordering="message_total")
    def message_count(self, room: WithAnnotations[Room, _MessageTotal]) -> int:
        return room.message_total

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        """Memberships and mutes added, changed or removed in the inlines go through the
        services."""
        if formset.model is Membership:
            for membership in formset.save(commit=False):
                if membership.pk is not None and "user" in _changed(formset, membership):
                    services.member_remove(
                        room=membership.room,
                        user=Membership.objects.get(pk=membership.pk).user,
                    )
                services.member_add(
                    room=membership.room,
                    user=membership.user,
                    role=membership.role,
                    added_by=request.user,
                )
            for gone in formset.deleted_objects:
                services.member_remove(room=gone.room, user=gone.user)
            return
        for mute in formset.save(commit=False):
            services.user_mute(
                room=mute.room,
                user=mute.user,
                created_by=mute.created_by or request.user,
                reason=mute.reason,
                expires_at=mute.expires_at,
                mute_id=mute.pk,
            )
        services.mute_delete(mutes=formset.deleted_objects)


def _changed(formset: Any, instance: Any) -> list[str]:
    for form in formset.forms:
        if form.instance is instance:
            return list(form.changed_data)
    return []


class MessageEditInline(admin.TabularInline):
    """The text of each earlier version, for moderation; authors cannot see it."""

    model = MessageEdit
    extra = 0
    can_delete = False
    readonly_fields = ["edited_at", "body"]
    fields = ["edited_at", "body"]
    verbose_name = "earlier version"

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


def _file_link(attachment: Attachment) -> str:
    return format_html(
        '<a href="{}">{}</a> ({})',
        attachment.get_absolute_url(),
        attachment.name,
        filetypes.human_size(attachment.size),
    )


class AttachmentInline(admin.TabularInline):
    """A message's files; deleting one here deletes it from the storage too."""

    model = Attachment
    fk_name = "message"
    extra = 0
    fields = ["file_link", "content_type", "dimensions", "uploader", "created_at"]
    readonly_fields = ["file_link", "content_type", "dimensions", "uploader", "created_at"]

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="file")
    def file_link(self, attachment: Attachment) -> str:
        return _file_link(attachment)

    @admin.display(description="size in pixels")
    def dimensions(self, attachment: Attachment) -> str:
        return f"{attachment.width} x {attachment.height}" if attachment.width else "-"


_ATTACHMENT_FIELDS = (
    "file_link",
    "room",
    "uploader",
    "message",
    "content_type",
    "size",
    "width",
    "height",
    "thumbnail",
    "file",
    "created_at",
)


@admin.register(Attachment)
class AttachmentAdmin(admin.ModelAdmin):
    """Every file shared, and uploads not sent yet (no message). Deleting one deletes
    it from the storage (after the deletion commits)."""

    list_display = [
        "name",
        "room",
        "uploader",
        "content_type",
        "human_size",
        "message",
        "created_at",
    ]
    list_filter = ["room", "content_type", ("message", admin.EmptyFieldListFilter)]
    search_fields = ["name", "uploader__username"]
    list_select_related = ["room", "uploader", "message"]
    date_hierarchy = "created_at"
    fields = _ATTACHMENT_FIELDS
    readonly_fields = _ATTACHMENT_FIELDS

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="size", ordering="size")
    def human_size(self, attachment: Attachment) -> str:
        return filetypes.human_size(attachment.size)

    @admin.display(description="file")
    def file_link(self, attachment: Attachment) -> str:
        return _file_link(attachment)


class DeletedFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("shown", "Shown"), ("edited", "Edited"), ("deleted", "Deleted")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Message]) -> QuerySet[Message]:
        if self.value() == "shown":
            return queryset.filter(deleted_at__isnull=True)
        if self.value() == "edited":
            return queryset.filter(edited_at__isnull=False, deleted_at__isnull=True)
        if self.value() == "deleted":
            return queryset.filter(deleted_at__isnull=False)
        return queryset


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = ["id", "room", "author", "short_body", "created_at", "edited_at", "deleted_at"]
    list_filter = [DeletedFilter, "room", "created_at"]
    readonly_fields = ["seq", "reply_to", "edited_at", "deleted_at", "reaction_summary"]
    inlines = [AttachmentInline, MessageEditInline]
    search_fields = ["author__username"]  # and the text, by get_search_results
    search_help_text = "Words of the message (full text), or the author's username."
    list_select_related = ["room", "author"]
    autocomplete_fields = ["room", "author"]
    date_hierarchy = "created_at"
    actions = ["mute_authors"]

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Message], search_term: str
    ) -> tuple[QuerySet[Message], bool]:
        """The site's full-text search (chat.selectors.message_matches), not a LIKE scan
        over every message; an author's username still matches too."""
        by_author, duplicates = super().get_search_results(request, queryset, search_term)
        if not search_term.strip():
            return by_author, duplicates
        by_text = queryset.filter(pk__in=selectors.message_matches(search_term).values("pk"))
        return by_text | by_author, duplicates

    @admin.display(description="body")
    def short_body(self, message: Message) -> str:
        if message.deleted_at is not None:
            return "(deleted)"
        return message.body if len(message.body) <= 80 else message.body[:79] + "…"

    @admin.display(description="reactions")
    def reaction_summary(self, message: Message) -> str:
        return (
            "; ".join(
                f"{emoji} {', '.join(name for _id, name in users)}"
                for emoji, users in message.reactions.items()
            )
            or "-"
        )

    def delete_model(self, request: HttpRequest, obj: Message) -> None:
        services.message_delete(messages=[obj])

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Message]) -> None:
        services.message_delete(messages=queryset)

    @admin.action(description="Mute the authors of the selected messages in their rooms")
    def mute_authors(self, request: HttpRequest, queryset: QuerySet[Message]) -> None:
        pairs = {(m.room, m.author) for m in queryset.select_related("room", "author")}
        for room, user in pairs:
            services.user_mute(room=room, user=user, created_by=request.user)
        self.message_user(request, f"Muted {len(pairs)} user(s).", messages.SUCCESS)


@admin.register(Mute)
class MuteAdmin(admin.ModelAdmin):
    """Every way of changing or lifting a mute here (the change form, delete, the bulk
    delete action) goes through the services, so the user's open pages follow at once."""

    list_display = ["user", "room", "reason", "expires_at", "created_by", "created_at"]
    list_filter = ["room"]
    search_fields = ["user__username", "room__title", "reason"]
    autocomplete_fields = ["room", "user"]
    readonly_fields = ["created_by", "created_at"]

    def save_model(self, request: HttpRequest, obj: Mute, form: Any, change: bool) -> None:
        mute = services.user_mute(
            room=obj.room,
            user=obj.user,
            created_by=request.user,
            reason=obj.reason,
            expires_at=obj.expires_at,
            mute_id=obj.pk if change else None,
        )
        obj.pk = mute.pk  # the admin's message and "continue editing" name the saved one

    def delete_model(self, request: HttpRequest, obj: Mute) -> None:
        services.mute_delete(mutes=[obj])

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Mute]) -> None:
        # A queryset's delete() sends no signals and would tell no one.
        services.mute_delete(mutes=queryset)


@admin.register(Block)
class BlockAdmin(admin.ModelAdmin):
    """Who blocked whom: for staff looking into a complaint (a block is the blocker's own
    choice; staff see it, and may lift it)."""

    list_display = ["blocker", "blocked", "created_at"]
    search_fields = ["blocker__username", "blocked__username"]
    autocomplete_fields = ["blocker", "blocked"]
    date_hierarchy = "created_at"
