"""Staff watch games here, and end or abort them; the players see it live."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from game import services
from game.models import Game, Move
from rtsite.admin import ReadOnlyTabularInline


class MoveInline(ReadOnlyTabularInline):
    model = Move
    fields = ["number", "player", "column", "row", "created_at"]
    readonly_fields = fields


@admin.register(Game)
class GameAdmin(admin.ModelAdmin):
    list_display = ["__str__", "status", "private", "winner", "reason", "version", "created_at"]
    list_filter = ["status", "private", "reason", "created_at"]
    search_fields = ["player1__username", "player2__username"]
    list_select_related = ["player1", "player2"]
    inlines = [MoveInline]
    actions = ["end_as_draw", "abort"]
    # Play happens through the services; the admin watches and ends games.
    readonly_fields = [f.name for f in Game._meta.get_fields() if getattr(f, "concrete", False)]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.action(description="End the selected games as a draw")
    def end_as_draw(self, request: HttpRequest, queryset: QuerySet[Game]) -> None:
        done = services.game_end_drawn(games=queryset)
        self.message_user(request, f"Ended {done} game(s) as a draw.", messages.SUCCESS)

    @admin.action(description="Abort the selected games (no result)")
    def abort(self, request: HttpRequest, queryset: QuerySet[Game]) -> None:
        done = services.game_abort(games=queryset)
        self.message_user(request, f"Aborted {done} game(s).", messages.SUCCESS)
