"""Health probes and the metrics scrape."""

from __future__ import annotations

import hmac
import ipaddress

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from common import proxies
from realtime import metrics
from realtime.server import health


@require_GET
@never_cache
async def healthz_live(request: HttpRequest) -> JsonResponse:
    """Liveness: answered on the event loop itself, with nothing else checked."""
    return JsonResponse({"status": "ok"})


@require_GET
@never_cache
async def healthz_ready(request: HttpRequest) -> JsonResponse:
    """Readiness (``realtime.server.health``): 503 with what failed while this process
    cannot serve."""
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
