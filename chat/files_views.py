"""Files in messages over HTTP: the upload a page makes before sending (XMLHttpRequest,
for its progress bar and cancel), and serving a file to the people who may see it."""

from __future__ import annotations

import urllib.parse

import msgspec
from asgiref.sync import async_to_sync
from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.http import require_GET, require_POST

from chat import filetypes, protocol, selectors, services
from chat.images import THUMBNAIL_TYPE
from realtime.errors import ActionError, ErrorCode

# What a refused upload answers, by the refusal's code.
_STATUS = {
    ErrorCode.AUTH_REQUIRED: 403,
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.MUTED: 403,
    ErrorCode.TOO_LARGE: 413,
    ErrorCode.RATE_LIMITED: 429,
}
# What a multipart form adds around one file, at most (boundaries, the part's headers).
FORM_OVERHEAD = 16_384
# A file is a document of its own when opened: nothing in it may run, load or frame.
FILE_CSP = "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; sandbox"


def _refused(status: int, message: str) -> JsonResponse:
    return JsonResponse({"error": message}, status=status)


@require_POST
def file_upload(request: HttpRequest, slug: str) -> JsonResponse:
    """One file (the form field ``file``) stored as the user's pending upload in the
    room; answers its id and details (201), or ``{"error": sentence}``."""
    user = request.user
    if not user.is_authenticated:
        return _refused(403, "Log in to share files.")
    room = selectors.room_get(slug=slug)
    if room is None or not selectors.room_visible_to(room=room, user=user):
        return _refused(404, "This room no longer exists.")
    limit = settings.CHAT_UPLOAD_MAX_BYTES
    # Plainly too big: refused before the form is parsed (nginx's client_max_body_size
    # refuses it before the site reads it at all).
    if int(request.META.get("CONTENT_LENGTH") or 0) > limit + FORM_OVERHEAD:
        return _refused(413, f"This file is too big. The limit is {filetypes.human_size(limit)}.")
    upload = request.FILES.get("file")
    if upload is None:
        return _refused(400, "Choose a file to share.")
    try:
        async_to_sync(services.write_allowed)(user=user, action="upload")
        attachment = services.attachment_upload(
            room=room, user=user, upload=upload, name=upload.name or ""
        )
    except ActionError as error:
        return _refused(_STATUS.get(error.code, 400), error.message)
    data = msgspec.to_builtins(protocol.AttachmentData.of(attachment))
    return JsonResponse({"attachment": data}, status=201)


@require_GET
def file_download(request: HttpRequest, pk: int, name: str = "") -> HttpResponse:
    """The file, to whoever may see its message (404 to anyone else, as if it did not
    exist); ``name`` in the address is for the reader, not looked at."""
    return _serve(request, pk, thumbnail=False)


@require_GET
def file_thumbnail(request: HttpRequest, pk: int) -> HttpResponse:
    return _serve(request, pk, thumbnail=True)


def _serve(request: HttpRequest, pk: int, *, thumbnail: bool) -> HttpResponse:
    attachment = selectors.attachment_visible(pk=pk, user=request.user)
    stored = (
        None if attachment is None else (attachment.thumbnail if thumbnail else attachment.file)
    )
    if attachment is None or not stored:
        raise Http404("No such file")
    kind = THUMBNAIL_TYPE if thumbnail else attachment.content_type
    content_type = filetypes.served_type(kind)
    accel = settings.CHAT_UPLOAD_ACCEL_REDIRECT
    if accel:
        # nginx sends the file from its internal location; it keeps the Content-Type,
        # Content-Disposition and Cache-Control given here (the guide adds the others).
        response = HttpResponse(content_type=content_type)
        response["X-Accel-Redirect"] = accel.rstrip("/") + "/" + urllib.parse.quote(stored)
    else:
        try:
            with services.uploads().open(stored) as file:
                # Files are at most CHAT_UPLOAD_MAX_BYTES; in production nginx sends them.
                response = HttpResponse(file.read(), content_type=content_type)
        except FileNotFoundError:
            raise Http404("No such file") from None
    name = attachment.name
    if thumbnail:
        name = name.rpartition(".")[0] or name
        name += ".webp"
    inline = kind in filetypes.INLINE_IMAGES
    response["Content-Disposition"] = filetypes.content_disposition(name, inline=inline)
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = FILE_CSP
    response["Cross-Origin-Resource-Policy"] = "same-origin"
    # Only the reader's own browser may keep it: who may see a room can change.
    response["Cache-Control"] = "private, max-age=3600"
    return response
