"""The inbox page, and plain-HTTP fallbacks for what pages normally do over the socket."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from notifications import digests, selectors, services, tokens
from notifications.models import EMAILED_KINDS, Kind, Level
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


@login_required
@require_http_methods(["GET", "POST"])
def email_settings(request: HttpRequest) -> HttpResponse:
    """Which kinds of notification the user wants emailed when they miss them."""
    if request.method == "POST":
        services.email_preference_set(
            user=request.user, wanted={kind: kind in request.POST for kind in EMAILED_KINDS}
        )
        messages.success(request, "Your email settings are saved.")
        return redirect("notifications:settings")
    preference = selectors.email_preference(user=request.user)
    return render(
        request,
        "notifications/settings.html",
        {
            "kinds": [
                {"value": kind, "label": KIND_LABELS[kind], "on": preference.wants(kind)}
                for kind in EMAILED_KINDS
            ],
            "delay_minutes": max(1, round(settings.NOTIFICATIONS_EMAIL_DELAY_SECONDS / 60)),
        },
    )


# What the settings page calls each kind's checkbox.
KIND_LABELS = {
    Kind.MENTION: "Someone mentions me",
    Kind.DIRECT: "Someone sends me a direct message",
    Kind.STAFF: "The site's staff send a notification",
}


# No CSRF check: the link in the email is the credential (signed for one user and the
# kinds of that email), and RFC 8058's one-click POST comes from the mail client, with no
# cookie or token of the site's. All it can do is turn those emails off.
@csrf_exempt
@require_http_methods(["GET", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    """GET asks (mail scanners follow links: a GET changes nothing); POST, from the page's
    button or a mail client's one-click unsubscribe, turns the emails off."""
    found = tokens.unsubscribe_read(token)
    if found is None:
        return render(request, "notifications/unsubscribe.html", {"invalid": True}, status=400)
    kinds = digests.listed([str(Kind(kind).label) for kind in found.kinds])
    if request.method == "POST":
        try:
            services.email_unsubscribe(token=token)
        except ActionError:
            return render(request, "notifications/unsubscribe.html", {"invalid": True}, status=400)
        return render(request, "notifications/unsubscribe.html", {"done": True, "kinds": kinds})
    return render(request, "notifications/unsubscribe.html", {"kinds": kinds})
