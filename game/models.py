"""Games and their moves. Every move is stored, so any game can be replayed."""

from __future__ import annotations

import secrets

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import models
from django.urls import reverse

from game.rules import EMPTY_BOARD


class Status(models.TextChoices):
    WAITING = "waiting", "waiting for an opponent"
    ACTIVE = "active", "in progress"
    FINISHED = "finished"
    ABORTED = "aborted"


class Reason(models.TextChoices):
    FOUR = "four", "four in a row"
    FULL = "full", "full board"
    AGREED = "agreed", "draw agreed"
    RESIGNED = "resigned"
    ABANDONED = "abandoned", "opponent left"
    STAFF = "staff", "ended by staff"
    CANCELLED = "cancelled"


def _invite_code() -> str:
    return secrets.token_urlsafe(12)


class Game(models.Model):
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.WAITING)
    private = models.BooleanField(default=False, help_text="Joined by invite link only.")
    invite_code = models.CharField(max_length=32, default=_invite_code, editable=False)
    player1 = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    player2 = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    board = models.CharField(max_length=42, default=EMPTY_BOARD)
    turn = models.PositiveSmallIntegerField(default=1)
    version = models.PositiveIntegerField(default=0, help_text="Bumped by every change.")
    winner = models.PositiveSmallIntegerField(null=True, blank=True)
    reason = models.CharField(max_length=10, choices=Reason.choices, blank=True)
    draw_offer = models.PositiveSmallIntegerField(null=True, blank=True)
    rematch_offer = models.PositiveSmallIntegerField(null=True, blank=True)
    rematch = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    player1_online = models.BooleanField(default=False)
    player2_online = models.BooleanField(default=False)
    player1_left_at = models.DateTimeField(null=True, blank=True)
    player2_left_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["status", "private"], name="game_status_private")]

    def __str__(self) -> str:
        second = self.player2.get_username() if self.player2 is not None else "…"
        return f"#{self.pk} {self.player1.get_username()} v {second}"

    def get_absolute_url(self) -> str:
        return reverse("game:detail", args=[self.pk])

    def number_of(self, user: object) -> int | None:
        """1 or 2 for the game's players, None for anyone else."""
        pk = getattr(user, "pk", None)
        if pk is None:
            return None
        if pk == self.player1_id:
            return 1
        if pk == self.player2_id:
            return 2
        return None

    def player(self, number: int) -> AbstractBaseUser | None:
        return self.player1 if number == 1 else self.player2


class Move(models.Model):
    game = models.ForeignKey(Game, on_delete=models.CASCADE, related_name="moves")
    number = models.PositiveSmallIntegerField()
    player = models.PositiveSmallIntegerField()
    column = models.PositiveSmallIntegerField()
    row = models.PositiveSmallIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["game", "number"]
        constraints = [models.UniqueConstraint(fields=["game", "number"], name="game_move_once")]

    def __str__(self) -> str:
        return f"#{self.game_id} move {self.number}: column {self.column}"


class PairingLock(models.Model):
    """One row, locked by every quick play, so two at once pair up instead of both
    opening a game (select_for_update on PostgreSQL; SQLite writes one at a time)."""

    class Meta:
        verbose_name = "pairing lock"

    def __str__(self) -> str:
        return "pairing lock"


class Arena(models.Model):
    """A snake arena. Its live world is in Redis, run by one process at a time
    (``game.arena``); the database keeps the arena, its rounds and their results."""

    class State(models.TextChoices):
        OPEN = "open"
        CLOSED = "closed"

    name = models.CharField(max_length=40)
    status = models.CharField(max_length=10, choices=State.choices, default=State.OPEN)
    private = models.BooleanField(default=False, help_text="Joined by invite link only.")
    invite_code = models.CharField(max_length=32, default=_invite_code, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["status", "private"], name="arena_status_private")]

    def __str__(self) -> str:
        return f"{self.name} (#{self.pk})"

    def get_absolute_url(self) -> str:
        return reverse("game:arena", args=[self.pk])

    def invite_url(self) -> str:
        return f"{self.get_absolute_url()}?code={self.invite_code}"


class ArenaRound(models.Model):
    arena = models.ForeignKey(Arena, on_delete=models.CASCADE, related_name="rounds")
    number = models.PositiveIntegerField()
    seed = models.BigIntegerField(help_text="The rules' random seed: with the inputs, a replay.")
    started_at = models.DateTimeField(auto_now_add=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    ticks = models.PositiveIntegerField(default=0)
    ended_by_staff = models.BooleanField(default=False)

    class Meta:
        ordering = ["-id"]
        constraints = [models.UniqueConstraint(fields=["arena", "number"], name="arena_round_once")]

    def __str__(self) -> str:
        return f"{self.arena.name} round {self.number}"


class ArenaResult(models.Model):
    round = models.ForeignKey(ArenaRound, on_delete=models.CASCADE, related_name="results")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    score = models.PositiveIntegerField(default=0)
    length = models.PositiveIntegerField(default=0)
    kills = models.PositiveIntegerField(default=0)
    deaths = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-score"]
        constraints = [models.UniqueConstraint(fields=["round", "user"], name="arena_result_once")]

    def __str__(self) -> str:
        return f"{self.round}: {self.user_id} scored {self.score}"
