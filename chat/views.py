from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.middleware.csrf import get_token
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from chat import filetypes, selectors, services
from chat.forms import RoomStartForm
from chat.models import TOPIC_MAX, Message
from realtime.errors import ActionError, try_again_in
from realtime.protocol import ascii_id
from realtime.ratelimit import account_wait_sync

SEARCH_QUERY_MAX = 200


def room_list(request: HttpRequest) -> HttpResponse:
    """The rooms the viewer may see, the ones they joined first (the page's script moves
    rooms joined or left later)."""
    rooms = list(selectors.room_list(user=request.user))
    joined = selectors.joined_room_ids(user=request.user)
    rooms.sort(key=lambda room: room.pk not in joined)
    directs = [
        (room, selectors.direct_title(room, request.user))
        for room in selectors.direct_list(user=request.user)
    ]
    return render(
        request,
        "chat/room_list.html",
        {
            "rooms": rooms,
            "directs": directs,
            "direct_max": settings.CHAT_DIRECT_MAX_PEOPLE - 1,
            "joined": joined,
            "may_start_rooms": may_start_rooms(request.user),
            "unread_limit": settings.CHAT_UNREAD_COUNT_LIMIT,
        },
    )


def may_start_rooms(user: object) -> bool:
    staff = bool(getattr(user, "is_staff", False))
    return bool(getattr(user, "is_authenticated", False)) and (
        settings.CHAT_ROOM_CREATORS == "users" or staff
    )


@login_required
@require_http_methods(["GET", "POST"])
def room_new(request: HttpRequest) -> HttpResponse:
    """A logged-in user makes a room, public or private, and owns it."""
    if not may_start_rooms(request.user):
        raise PermissionDenied
    form = RoomStartForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        wait = account_wait_sync(
            action="chat.room",
            key=str(request.user.pk),
            rate=settings.CHAT_ROOMS_PER_HOUR / 3600,
            burst=max(1, settings.CHAT_ROOMS_PER_HOUR),
        )
        if wait:
            form.add_error(None, f"You have made many rooms lately. {try_again_in(wait)}")
        else:
            try:
                room = services.room_start(
                    user=request.user,
                    title=form.cleaned_data["title"],
                    private=form.cleaned_data["private"],
                    description=form.cleaned_data["description"],
                )
            except ValidationError as error:
                for field, messages in error.message_dict.items():
                    for message in messages:
                        form.add_error(field if field in form.fields else None, message)
            except ActionError as error:
                form.add_error(None, error.message)
            else:
                return redirect(room)
    return render(request, "chat/room_new.html", {"form": form})


def room_detail(request: HttpRequest, slug: str) -> HttpResponse:
    # A private room a viewer may not see answers as if it did not exist.
    room = selectors.room_visible_get(slug=slug, user=request.user)
    if room is None:
        raise Http404("No such room")
    if not request.user.is_authenticated and not settings.CHAT_ANONYMOUS_READ:
        return redirect_to_login(request.get_full_path())
    return render(
        request,
        "chat/room.html",
        {
            "room": room,
            "title": selectors.direct_title(room, request.user),
            "topic_max": TOPIC_MAX,
            "notifications_muted": selectors.room_notifications_muted(room=room, user=request.user),
            "config": {
                "slug": room.slug,
                "title": selectors.direct_title(room, request.user),
                "maxLength": settings.CHAT_MAX_MESSAGE_LENGTH,
                "canPost": request.user.is_authenticated,
                "upload": {
                    "url": reverse("chat:upload", kwargs={"slug": room.slug}),
                    "csrfToken": get_token(request) if request.user.is_authenticated else "",
                    "maxBytes": settings.CHAT_UPLOAD_MAX_BYTES,
                    "limitText": filetypes.human_size(settings.CHAT_UPLOAD_MAX_BYTES),
                    "types": settings.CHAT_UPLOAD_TYPES,
                    "typesText": filetypes.describe_types(settings.CHAT_UPLOAD_TYPES),
                    "maxFiles": settings.CHAT_UPLOAD_MAX_FILES,
                },
            },
        },
    )


@login_required
@require_POST
def room_notifications(request: HttpRequest, slug: str) -> HttpResponse:
    """The room page's Mute notifications / Unmute notifications button."""
    room = selectors.room_get(slug=slug)
    if room is None or not selectors.room_visible_to(room=room, user=request.user):
        raise Http404("No such room")
    muted = request.POST.get("muted") == "1"
    services.room_notifications_mute(room=room, user=request.user, muted=muted)
    messages.success(
        request,
        f"Notifications from {room.title} are muted."
        if muted
        else f"You get notifications from {room.title} again.",
    )
    return redirect(room)


def search(request: HttpRequest) -> HttpResponse:
    """Search messages in one room (``?room=<slug>``) or in every room; each result links
    to the message in its room, loaded around it."""
    if not request.user.is_authenticated and not settings.CHAT_ANONYMOUS_READ:
        return redirect_to_login(request.get_full_path())
    query = request.GET.get("q", "").strip()[:SEARCH_QUERY_MAX]
    room = None
    if request.GET.get("room"):
        room = selectors.room_visible_get(slug=request.GET["room"], user=request.user)
        if room is None:
            raise Http404("No such room")
    before_id = ascii_id(request.GET.get("before"))
    results: list[Message] = []
    has_more = False
    if query:
        results, has_more = selectors.message_search(
            query=query,
            user=request.user,
            room=room,
            before_id=before_id,
            limit=settings.CHAT_SEARCH_PAGE_SIZE,
        )
    return render(
        request,
        "chat/search.html",
        {
            "query": query,
            "room": room,
            "results": results,
            "words": selectors.search_words(query),
            "next_before": results[-1].pk if has_more and results else None,
            "searched": bool(query),
        },
    )
