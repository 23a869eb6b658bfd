"""Every change to chat state, and the broadcast that goes with it.

Consumers, views, the admin and management commands all call these, so a message
deleted in the admin or posted by ``manage.py`` reaches open browsers like one sent
from a browser. Broadcasts leave only after the transaction commits.

One module per part: ``rooms`` (creation, retention, mutes, muted notifications,
editing), ``members`` (membership and roles), ``direct`` (direct conversations,
blocking), ``messages`` (post, edit, delete, react), ``mentions`` (the notifications they
send), ``reads`` (read cursors) and ``activity`` (presence, typing, the per-account write
limit).
"""

from chat.services.activity import presence_announce, typing_start, write_allowed
from chat.services.attachments import (
    attachment_prune_pending,
    attachment_upload,
    attachments_link,
    uploads,
)
from chat.services.direct import direct_members_refuse, direct_open, user_block
from chat.services.members import (
    member_add,
    member_invite,
    member_kick,
    member_mute,
    member_remove,
    member_set_role,
    members_group_changed,
    members_user_groups_changed,
    room_access_changed,
    room_leave,
    room_start,
)
from chat.services.mentions import MENTION_DELETED
from chat.services.messages import (
    message_delete,
    message_delete_own,
    message_edit,
    message_post,
    reaction_toggle,
)
from chat.services.reads import read_mark, read_mark_soon, read_marks, read_open, room_join
from chat.services.rooms import (
    mute_delete,
    room_create,
    room_edit,
    room_notifications_mute,
    room_prune,
    room_set_retention,
    user_mute,
    user_unmute,
)

__all__ = [
    "MENTION_DELETED",
    "attachment_prune_pending",
    "attachment_upload",
    "attachments_link",
    "direct_members_refuse",
    "direct_open",
    "member_add",
    "member_invite",
    "member_kick",
    "member_mute",
    "member_remove",
    "member_set_role",
    "members_group_changed",
    "members_user_groups_changed",
    "message_delete",
    "message_delete_own",
    "message_edit",
    "message_post",
    "mute_delete",
    "presence_announce",
    "reaction_toggle",
    "read_mark",
    "read_mark_soon",
    "read_marks",
    "read_open",
    "room_access_changed",
    "room_create",
    "room_edit",
    "room_join",
    "room_leave",
    "room_notifications_mute",
    "room_prune",
    "room_set_retention",
    "room_start",
    "typing_start",
    "uploads",
    "user_block",
    "user_mute",
    "user_unmute",
    "write_allowed",
]
