from __future__ import annotations

import logging
from typing import Any

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.templatetags.static import static
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from rtsite.accounts import SignupForm
from rtsite.redis import get_redis

logger = logging.getLogger(__name__)


def signup(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("chat:room_list")
    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = form.save()
        login(request, user)
        messages.success(
            request, f"Welcome, {user.get_username()}! Your account is ready and you are logged in."
        )
        return redirect("chat:room_list")
    return render(request, "registration/signup.html", {"form": form})


class LogoutView(auth_views.LogoutView):
    """Django's logout, saying that it happened on the page it lands on."""

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        response = super().post(request, *args, **kwargs)
        messages.success(request, "You have logged out.")  # stored in a cookie, not the session
        return response


def favicon(request: HttpRequest) -> HttpResponse:
    return redirect(static("rtsite/favicon.svg"), permanent=True)


def _check(probe: str) -> str:
    try:
        if probe == "database":
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1")
        else:
            get_redis(timeout=1.0).ping()
    except Exception as error:
        logger.warning("healthz: %s unreachable: %s", probe, error)
        return "unreachable"
    return "ok"


@require_GET
@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    checks = {probe: _check(probe) for probe in ("database", "redis")}
    healthy = all(state == "ok" for state in checks.values())
    return JsonResponse(
        {"status": "ok" if healthy else "unavailable", **checks}, status=200 if healthy else 503
    )
