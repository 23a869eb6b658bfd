from __future__ import annotations

import hmac
import ipaddress
import logging
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.templatetags.static import static
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from rtsite import health, metrics, proxies
from rtsite.accounts import SignupForm

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


@require_GET
@never_cache
async def healthz_live(request: HttpRequest) -> JsonResponse:
    """Liveness: answered on the event loop itself, with nothing else checked."""
    return JsonResponse({"status": "ok"})


@require_GET
@never_cache
async def healthz_ready(request: HttpRequest) -> JsonResponse:
    """Readiness (``rtsite.health``): 503 with what failed while this process cannot serve."""
    checks = await health.readiness()
    healthy = health.ready(checks)
    return JsonResponse(
        {"status": "ok" if healthy else "unavailable", **checks}, status=200 if healthy else 503
    )


@never_cache
def metrics_view(request: HttpRequest) -> HttpResponse:
    """Prometheus metrics, for a scraper with the token (METRICS_TOKEN) or, without one
    configured, from an allowed network and not through a proxy."""
    if not _may_scrape(request):
        return HttpResponse("forbidden\n", status=403, content_type="text/plain")
    body, content_type = metrics.render()
    return HttpResponse(body, content_type=content_type)


def _may_scrape(request: HttpRequest) -> bool:
    token = settings.METRICS_TOKEN
    if token:
        given = request.headers.get("Authorization", "")
        return hmac.compare_digest(given.encode(), f"Bearer {token}".encode())
    if any(header in request.headers for header in proxies.ADDRESS_HEADERS):
        return False  # through a proxy: from outside, whatever REMOTE_ADDR says
    try:
        address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    return any(address in ipaddress.ip_network(net) for net in settings.METRICS_ALLOWED_NETWORKS)
