from __future__ import annotations

import logging

from django.contrib.auth import login
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
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
        return redirect("chat:room_list")
    return render(request, "registration/signup.html", {"form": form})


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
