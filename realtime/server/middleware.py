"""HTTP request metrics, as Django middleware."""

from __future__ import annotations

import time
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from realtime import metrics


class RequestMetricsMiddleware:
    """HTTP requests by view and status, and their time by view (``realtime.metrics``). The
    view is its URL name (``chat:room``): a bounded set, unlike paths."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.monotonic()
        response = self.get_response(request)
        match = request.resolver_match
        view = (match.view_name or "unnamed") if match is not None else "unmatched"
        metrics.HTTP_REQUESTS.labels(view, str(response.status_code)).inc()
        metrics.HTTP_SECONDS.labels(view).observe(time.monotonic() - started)
        return response
