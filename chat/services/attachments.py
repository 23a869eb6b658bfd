"""Files in messages: upload (pending), link to the message that sends them, delete.

An upload is checked and stored at once, as a pending attachment of the uploader in the
room; ``message_post`` links the uploader's pending ones to the message in the
message's own transaction. Files are deleted with their rows, whatever deletes those (a
message deleted, retention, a room or user deleted): a ``post_delete`` receiver deletes
them from the storage once the transaction has committed, so a rolled-back deletion
keeps its files.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Collection
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile, File
from django.core.files.storage import Storage, storages
from django.db import transaction
from django.utils import timezone

from chat import filetypes, images
from chat.models import Attachment, Message, Room
from chat.selectors import room_visible_to, user_is_muted
from realtime.errors import ActionError, ErrorCode

logger = logging.getLogger(__name__)

STORAGE = "uploads"
# Stored names: a random part only (nothing of the file's name, its room or its uploader).
_PREFIX = "chat/"


def uploads() -> Storage:
    return storages[STORAGE]


def _new_name() -> str:
    return _PREFIX + secrets.token_urlsafe(24)


def attachment_upload(*, room: Room, user: Any, upload: File[Any], name: str) -> Attachment:
    """Check and store one uploaded file as the user's pending attachment in ``room``.

    Refused (``ActionError``, its message a sentence for the uploader): not allowed to
    post there, empty, over CHAT_UPLOAD_MAX_BYTES, a type (read from the content) not in
    CHAT_UPLOAD_TYPES, or an image that does not decode, or is too large in pixels."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        raise ActionError(ErrorCode.AUTH_REQUIRED, "Log in to share files.")
    if not room_visible_to(room=room, user=user):
        raise ActionError(ErrorCode.NOT_FOUND, "This room no longer exists.")
    if user_is_muted(room=room, user=user):
        raise ActionError(ErrorCode.MUTED, "You are muted in this room.")
    limit = settings.CHAT_UPLOAD_MAX_BYTES
    size = upload.size or 0
    if size > limit:
        raise ActionError(
            ErrorCode.TOO_LARGE,
            f"This file is too big. The limit is {filetypes.human_size(limit)}.",
        )
    if size == 0:
        raise ActionError(ErrorCode.INVALID, "This file is empty.")
    upload.seek(0)
    kind = filetypes.sniff(upload.read(filetypes.SNIFF_BYTES))
    if kind not in settings.CHAT_UPLOAD_TYPES:
        raise ActionError(ErrorCode.INVALID, "Files of this type cannot be shared here.")
    name = filetypes.clean_name(name, kind)
    storage = uploads()
    stored: list[str] = []
    try:
        fields: dict[str, Any] = {}
        if kind in filetypes.INLINE_IMAGES:
            try:
                made = images.remake(
                    upload,
                    kind=kind,
                    max_pixels=settings.CHAT_UPLOAD_MAX_PIXELS,
                    thumb_box=settings.CHAT_THUMBNAIL_SIZE,
                )
            except images.ImageRefusedError as refused:
                raise ActionError(ErrorCode.INVALID, str(refused)) from None
            stored.append(storage.save(_new_name(), ContentFile(made.data)))
            stored.append(storage.save(_new_name(), ContentFile(made.thumbnail)))
            fields = {
                "size": len(made.data),
                "width": made.width,
                "height": made.height,
                "thumbnail": stored[1],
                "thumb_width": made.thumb_width,
                "thumb_height": made.thumb_height,
            }
        else:
            upload.seek(0)
            stored.append(storage.save(_new_name(), upload))
            fields = {"size": size}
        return Attachment.objects.create(
            room=room, uploader=user, file=stored[0], name=name, content_type=kind, **fields
        )
    except BaseException:
        for stored_name in stored:
            _delete_stored(stored_name)
        raise


def attachments_link(*, message: Message, ids: Collection[int]) -> list[Attachment]:
    """Give the author's pending attachments ``ids`` in the message's room to ``message``
    (in the caller's transaction, before its broadcast). Refused if one is not theirs,
    not there, already sent or in another room."""
    order = {pk: i for i, pk in reversed(list(enumerate(ids)))}  # the first place of each
    wanted = set(ids)
    if len(wanted) > settings.CHAT_UPLOAD_MAX_FILES:
        raise ActionError(
            ErrorCode.TOO_LARGE,
            f"A message can have at most {settings.CHAT_UPLOAD_MAX_FILES} files.",
        )
    found = list(
        Attachment.objects.select_for_update().filter(
            pk__in=wanted,
            uploader_id=message.author_id,
            room_id=message.room_id,
            message__isnull=True,
        )
    )
    if len(found) != len(wanted):
        raise ActionError(
            ErrorCode.NOT_FOUND,
            "A file you attached is no longer available. Remove it and attach it again.",
        )
    found.sort(key=lambda attachment: order[attachment.pk])
    for position, attachment in enumerate(found):
        attachment.message, attachment.position = message, position
    Attachment.objects.bulk_update(found, ["message", "position"])
    return found


def attachment_prune_pending(*, older_than: timedelta | None = None) -> int:
    """Delete uploads never sent with a message, older than CHAT_UPLOAD_PENDING_HOURS
    (or ``older_than``); their files go once this commits. Returns how many."""
    if older_than is None:
        older_than = timedelta(hours=settings.CHAT_UPLOAD_PENDING_HOURS)
    cutoff = timezone.now() - older_than
    with transaction.atomic():
        _total, by_model = Attachment.objects.filter(
            message__isnull=True, created_at__lt=cutoff
        ).delete()
    return by_model.get(Attachment._meta.label, 0)


def _delete_stored(name: str) -> None:
    try:
        uploads().delete(name)
    except Exception:  # a storage outage must not fail the deletion that asked
        logger.exception("could not delete the stored file %s", name)


def attachment_deleted(sender: Any, instance: Attachment, **kwargs: Any) -> None:
    """``post_delete`` of an attachment (however it went: a message deleted, retention,
    a cascade): its files leave the storage once the deletion commits."""
    names = [name for name in (instance.file, instance.thumbnail) if name]
    using = kwargs.get("using")

    def delete() -> None:
        for name in names:
            _delete_stored(name)

    transaction.on_commit(delete, using=using)
