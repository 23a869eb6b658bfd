"""The inbox page, and plain-HTTP fallbacks for what pages normally do over the socket."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from notifications import selectors, services
from notifications.models import Level
from realtime.errors import ActionError


@login_required
def inbox(request: HttpRequest) -> HttpResponse:
    per_page = settings.NOTIFICATIONS_PAGE_SIZE
    paginator = Paginator(selectors.inbox(user=request.user).order_by("-id"), per_page)
    page = paginator.get_page(request.GET.get("page"))
    return render(
        request,
        "notifications/inbox.html",
        {
            "page": page,
            "unread": selectors.unread_count(user=request.user),
            "levels": dict(Level.choices),  # items added live are labelled the same way
        },
    )


def open_notification(request: HttpRequest, pk: int) -> HttpResponse:
    """Follow a notification's link, marking it read on the way."""
    notification = selectors.inbox(user=request.user).filter(pk=pk).first()
    if notification is None:
        raise Http404("No such notification")
    if request.user.is_authenticated and not notification.is_read:
        services.notification_mark_read(user=request.user, notification_id=pk)
    # Checked when it was stored; checked again here for rows stored before that check
    # was strict. Never resolved as a URL name (redirect() would try).
    link = notification.link
    return HttpResponseRedirect(
        link if services.is_site_path(link) else reverse("notifications:inbox")
    )


@login_required
@require_POST
def mark_read(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        services.notification_mark_read(user=request.user, notification_id=pk)
    except ActionError as error:
        raise Http404(error.message) from None
    return redirect("notifications:inbox")


@login_required
@require_POST
def mark_all_read(request: HttpRequest) -> HttpResponse:
    services.notification_mark_all_read(user=request.user)
    return redirect("notifications:inbox")
