"""Staff watch games and arenas here, and end or abort games, end arena rounds, close
arenas and remove players; the players see it live."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from common.admin import ReadOnlyTabularInline
from game import services
from game.arena import store as arena_store
from game.models import Arena, ArenaResult, ArenaRound, Game, Move


class MoveInline(ReadOnlyTabularInline):
    model = Move
    fields = ("number", "player", "column", "row", "created_at")
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
        outcome = services.game_end_drawn(games=queryset)
        if outcome.done:
            self.message_user(request, f"Ended {outcome.done} game(s) as a draw.", messages.SUCCESS)
        if outcome.not_started:
            games = ", ".join(f"#{pk}" for pk in outcome.not_started)
            self.message_user(
                request,
                f"Not ended as a draw: {games} had not started (nobody has joined yet). "
                "Abort a game that is still waiting instead.",
                messages.ERROR,
            )
        elif not outcome.done:
            self.message_user(request, "No game in progress was selected.", messages.WARNING)

    @admin.action(description="Abort the selected games (no result)")
    def abort(self, request: HttpRequest, queryset: QuerySet[Game]) -> None:
        outcome = services.game_abort(games=queryset)
        self.message_user(request, f"Aborted {outcome.done} game(s).", messages.SUCCESS)


class ArenaRoundInline(ReadOnlyTabularInline):
    model = ArenaRound
    fields = ("number", "started_at", "ended_at", "ticks", "ended_by_staff")
    readonly_fields = fields
    show_change_link = True


class ArenaResultInline(ReadOnlyTabularInline):
    model = ArenaResult
    fields = ("user", "score", "length", "kills", "deaths")
    readonly_fields = fields


@admin.register(ArenaRound)
class ArenaRoundAdmin(admin.ModelAdmin):
    list_display = ["__str__", "started_at", "ended_at", "ticks", "ended_by_staff"]
    list_select_related = ["arena"]
    inlines = [ArenaResultInline]
    readonly_fields = [
        f.name for f in ArenaRound._meta.get_fields() if getattr(f, "concrete", False)
    ]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(Arena)
class ArenaAdmin(admin.ModelAdmin):
    """Arenas as they are now: what each owner last reported (at most a second old) beside
    what is stored. End a round, close an arena, or take a player out of one; the page
    of everyone in it shows the change at once."""

    list_display = ["name", "status", "private", "players", "owner", "tick_lag", "phase"]

    class Media:
        js = ["game/arena_admin.js"]  # the list refreshes itself while nobody is using it

    list_filter = ["status", "private"]
    search_fields = ["name"]
    inlines = [ArenaRoundInline]
    actions = ["end_round", "close"]
    readonly_fields = [
        *(f.name for f in Arena._meta.get_fields() if getattr(f, "concrete", False)),
        "players_now",
    ]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def get_changelist_instance(self, request: HttpRequest) -> Any:
        changelist = super().get_changelist_instance(request)
        # One Redis read for the page's arenas.
        self.live = arena_store.read_info_sync([a.pk for a in changelist.result_list])
        return changelist

    def _live(self, arena: Arena) -> dict[str, Any]:
        live = getattr(self, "live", {})
        if arena.pk not in live:
            live.update(arena_store.read_info_sync([arena.pk]))
        return live.get(arena.pk, {})

    @admin.display(description="players")
    def players(self, arena: Arena) -> str | None:
        # None shows as the admin's empty value: nobody runs the arena now.
        info = self._live(arena)
        return f"{info['players']} (+{info['spectators']} watching)" if info else None

    @admin.display(description="tick owner")
    def owner(self, arena: Arena) -> str | None:
        return self._live(arena).get("owner") if arena.status == Arena.State.OPEN else None

    @admin.display(description="tick lag (ms, worst in the last second)")
    def tick_lag(self, arena: Arena) -> str | None:
        info = self._live(arena)
        return f"{info['lag_ms']:g}" if info and arena.status == Arena.State.OPEN else None

    @admin.display(description="phase")
    def phase(self, arena: Arena) -> str | None:
        info = self._live(arena)
        return f"{info['phase']}, round {info['round']}" if info else None

    @admin.display(description="players now")
    def players_now(self, arena: Arena) -> str:
        stored = arena_store.read_world_sync(arena.pk)
        if stored is None or not stored[0].names:
            return "nobody is playing"
        meta, state = stored
        rows = []
        for player, name in sorted(meta.names.items(), key=lambda item: item[1]):
            snake = state.snake(player)
            url = reverse("admin:game_arena_remove", args=[arena.pk, player])
            rows.append(
                format_html(
                    "<li>{} (score {}) · <a href='{}'>remove from the arena</a></li>",
                    name,
                    snake.score if snake else 0,
                    url,
                )
            )
        return format_html("<ul>{}</ul>", format_html_join("", "{}", ((row,) for row in rows)))

    def get_urls(self) -> list[Any]:
        return [
            path(
                "<int:arena_id>/remove/<int:user_id>/",
                self.admin_site.admin_view(self.remove_player_view),
                name="game_arena_remove",
            ),
            *super().get_urls(),
        ]

    def remove_player_view(self, request: HttpRequest, arena_id: int, user_id: int) -> Any:
        arena = Arena.objects.filter(pk=arena_id).first()
        user = get_user_model().objects.filter(pk=user_id).first()
        if arena is None or user is None or not self.has_change_permission(request, arena):
            raise PermissionDenied
        back = reverse("admin:game_arena_change", args=[arena.pk])
        if request.method == "POST":
            if services.arena_remove_player(arena_id=arena.pk, user_id=user.pk):
                self.message_user(request, f"Removed {user.get_username()} from {arena.name}.")
            else:
                self.message_user(request, f"{arena.name} is not running.", messages.WARNING)
            return HttpResponseRedirect(back)
        context = {
            **self.admin_site.each_context(request),
            "title": f"Remove {user.get_username()} from {arena.name}?",
            "arena": arena,
            "player": user,
            "back": back,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/game/arena/remove_player.html", context)

    @admin.action(description="End the current round of the selected arenas")
    def end_round(self, request: HttpRequest, queryset: QuerySet[Arena]) -> None:
        done = services.arena_end_round(arenas=queryset)
        self.message_user(request, f"Ended the round in {done} arena(s).", messages.SUCCESS)

    @admin.action(description="Close the selected arenas")
    def close(self, request: HttpRequest, queryset: QuerySet[Arena]) -> None:
        done = services.arena_staff_close(arenas=queryset.filter(status=Arena.State.OPEN))
        self.message_user(request, f"Closed {done} arena(s).", messages.SUCCESS)
