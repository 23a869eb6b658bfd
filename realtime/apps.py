from __future__ import annotations

from django.apps import AppConfig


class RealtimeConfig(AppConfig):
    """The real-time runtime: consumers, the hub, presence, the process registry, and
    (``realtime.server``) running daphne in production."""

    name = "realtime"
    verbose_name = "Real-time runtime"
