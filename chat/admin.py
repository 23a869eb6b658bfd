"""Moderation in the admin. Deletes and mutes go through chat.services, so open
browsers see a deleted message disappear at once."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import Count, QuerySet
from django.http import HttpRequest

from chat import services
from chat.models import Message, Mute, Room


class MuteInline(admin.TabularInline):
    model = Mute
    fk_name = "room"
    extra = 0
    autocomplete_fields = ["user"]
    readonly_fields = ["created_by", "created_at"]


@admin.register(Room)
class RoomAdmin(admin.ModelAdmin):
    list_display = ["title", "slug", "retention", "message_count", "created_at"]
    search_fields = ["title", "slug", "description"]
    prepopulated_fields = {"slug": ["title"]}
    inlines = [MuteInline]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Room]:
        return super().get_queryset(request).annotate(message_total=Count("messages"))

    @admin.display(description="messages", ordering="message_total")
    def message_count(self, room: Room) -> int:
        return room.message_total  # type: ignore[attr-defined]

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        """Mutes added, changed or removed in the inline go through the services."""
        for mute in formset.save(commit=False):
            services.user_mute(
                room=mute.room,
                user=mute.user,
                created_by=mute.created_by or request.user,
                reason=mute.reason,
            )
        for mute in formset.deleted_objects:
            services.user_unmute(room=mute.room, user=mute.user)


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = ["id", "room", "author", "short_body", "created_at"]
    list_filter = ["room", "created_at"]
    search_fields = ["body", "author__username", "room__title"]
    list_select_related = ["room", "author"]
    autocomplete_fields = ["room", "author"]
    date_hierarchy = "created_at"
    actions = ["mute_authors"]

    @admin.display(description="body")
    def short_body(self, message: Message) -> str:
        return message.body if len(message.body) <= 80 else message.body[:79] + "…"

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
    list_display = ["user", "room", "reason", "created_by", "created_at"]
    list_filter = ["room"]
    search_fields = ["user__username", "room__title", "reason"]
    autocomplete_fields = ["room", "user"]
    readonly_fields = ["created_by", "created_at"]

    def save_model(self, request: HttpRequest, obj: Mute, form: Any, change: bool) -> None:
        services.user_mute(room=obj.room, user=obj.user, created_by=request.user, reason=obj.reason)
