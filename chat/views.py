from __future__ import annotations

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from chat import selectors
from chat.models import Message
from realtime.protocol import ascii_id

SEARCH_QUERY_MAX = 200


def room_list(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "chat/room_list.html",
        {"rooms": selectors.room_list(), "unread_limit": settings.CHAT_UNREAD_COUNT_LIMIT},
    )


def room_detail(request: HttpRequest, slug: str) -> HttpResponse:
    room = selectors.room_get(slug=slug)
    if room is None:
        raise Http404("No such room")
    if not request.user.is_authenticated and not settings.CHAT_ANONYMOUS_READ:
        return redirect_to_login(request.get_full_path())
    return render(
        request,
        "chat/room.html",
        {
            "room": room,
            "config": {
                "slug": room.slug,
                "title": room.title,
                "maxLength": settings.CHAT_MAX_MESSAGE_LENGTH,
                "canPost": request.user.is_authenticated,
            },
        },
    )


def search(request: HttpRequest) -> HttpResponse:
    """Search messages in one room (``?room=<slug>``) or in every room; each result links
    to the message in its room, loaded around it."""
    if not request.user.is_authenticated and not settings.CHAT_ANONYMOUS_READ:
        return redirect_to_login(request.get_full_path())
    query = request.GET.get("q", "").strip()[:SEARCH_QUERY_MAX]
    room = None
    if request.GET.get("room"):
        room = selectors.room_get(slug=request.GET["room"])
        if room is None:
            raise Http404("No such room")
    before_id = ascii_id(request.GET.get("before"))
    results: list[Message] = []
    has_more = False
    if query:
        results, has_more = selectors.message_search(
            query=query, room=room, before_id=before_id, limit=settings.CHAT_SEARCH_PAGE_SIZE
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
