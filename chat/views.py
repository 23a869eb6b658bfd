from __future__ import annotations

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from chat import selectors


def room_list(request: HttpRequest) -> HttpResponse:
    return render(request, "chat/room_list.html", {"rooms": selectors.room_list()})


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
                "maxLength": settings.CHAT_MAX_MESSAGE_LENGTH,
                "canPost": request.user.is_authenticated,
            },
        },
    )
