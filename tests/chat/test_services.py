from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import ValidationError
from django.test import override_settings
from django.utils import timezone

from chat import protocol, selectors, services
from chat.models import Mention, Message, MessageEdit, Reaction, ReadState, Room
from realtime.errors import ActionError, ErrorCode

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def author(make_user: Callable[..., Any]) -> Any:
    return make_user()


def post(room: Room, author: Any, body: str) -> Message:
    return services.message_post(room=room, author=author, body=body)


def error_code(call: Callable[[], object]) -> ErrorCode:
    with pytest.raises(ActionError) as caught:
        call()
    return caught.value.code


def test_body_is_trimmed_and_stored(make_room: Callable[..., Room], author: Any) -> None:
    message = post(make_room(), author, "  hello there \n")
    assert Message.objects.get(pk=message.pk).body == "hello there"


def test_control_characters_are_stripped_the_same_on_every_database(
    make_room: Callable[..., Room], author: Any
) -> None:
    """PostgreSQL refuses NUL in text; SQLite stores it. Neither sees one."""
    message = post(make_room(), author, "a\x00b\x1b[31mc\r\nline\ttwo\x7f")
    assert Message.objects.get(pk=message.pk).body == "ab[31mc\nline\ttwo"


@pytest.mark.parametrize(
    "body", ["\u200b", "\ufeff", "\u200b\u200c\u200d\u2060", "\x00 \x01", "\u3164"]
)
def test_a_body_of_invisible_characters_is_empty(
    make_room: Callable[..., Room], author: Any, body: str
) -> None:
    assert error_code(lambda: post(make_room(), author, body)) == ErrorCode.INVALID
    assert not Message.objects.exists()


def test_rooms_are_checked_wherever_they_are_made(make_room: Callable[..., Room]) -> None:
    from django.core.exceptions import ValidationError

    make_room(slug="ops-room")
    bad = [
        {"slug": "OPS-ROOM", "title": "Ops"},  # the same slug in another case
        {"slug": "long", "title": "Long", "description": "x" * 1001},
        {"slug": "big", "title": "Big", "retention": 100_001},
        {"slug": "blank", "title": "\u200b"},
    ]
    for fields in bad:
        with pytest.raises(ValidationError):
            services.room_create(**fields)
    # The database holds the line too, for writes that skip validation.
    from django.db import IntegrityError, transaction

    for fields in (
        {"slug": "Ops-Room", "title": "x"},
        {"slug": "d", "title": "d", "description": "y" * 1001},
    ):
        with pytest.raises(IntegrityError), transaction.atomic():
            Room.objects.create(**fields)
    room = services.room_create(slug="fine", title=" Fine\x00 room ", description="ok\x07")
    assert (room.title, room.description) == ("Fine room", "ok")


def test_refused_posts_store_nothing(make_room: Callable[..., Room], author: Any) -> None:
    room = make_room()
    assert error_code(lambda: post(room, author, " \n\t ")) == ErrorCode.INVALID
    assert error_code(lambda: post(room, AnonymousUser(), "hi")) == ErrorCode.AUTH_REQUIRED
    with override_settings(CHAT_MAX_MESSAGE_LENGTH=5):
        assert error_code(lambda: post(room, author, "123456")) == ErrorCode.TOO_LARGE
        post(room, author, "12345")
    # Deactivated in the database (the object the socket holds still says active).
    type(author).objects.filter(pk=author.pk).update(is_active=False)
    assert author.is_active
    assert error_code(lambda: post(room, author, "hi")) == ErrorCode.AUTH_REQUIRED
    assert Message.objects.filter(room=room).count() == 1


def test_muted_user_cannot_post(make_room: Callable[..., Room], author: Any) -> None:
    room, other_room = make_room(), make_room()
    services.user_mute(room=room, user=author, reason="spam")
    assert error_code(lambda: post(room, author, "hi")) == ErrorCode.MUTED
    post(other_room, author, "still fine elsewhere")
    assert services.user_unmute(room=room, user=author) is True
    post(room, author, "back")


def test_retention_keeps_the_newest(make_room: Callable[..., Room], author: Any) -> None:
    room = make_room(retention=3)
    ids = [post(room, author, f"m{i}").pk for i in range(6)]
    assert list(Message.objects.filter(room=room).values_list("id", flat=True)) == ids[-3:]


def test_a_new_room_keeps_everything_and_ten_is_a_choice(author: Any) -> None:
    default = services.room_create(slug="keeps-all", title="All")
    ten = services.room_create(slug="keeps-ten", title="Ten", retention=10)
    assert (default.retention, default.retention_days, default.retention_summary) == (0, 0, "")
    assert ten.retention_summary == "This room keeps the newest 10 messages."
    for i in range(14):
        post(default, author, f"d{i}")
        post(ten, author, f"t{i}")
    assert Message.objects.filter(room=default).count() == 14
    assert Message.objects.filter(room=ten).count() == 10


def test_retention_by_age_deletes_older_messages(
    make_room: Callable[..., Room], author: Any
) -> None:
    room = make_room(retention_days=7)
    assert room.retention_summary == "This room keeps messages for 7 days."
    old = [post(room, author, f"old{i}") for i in range(3)]
    Message.objects.filter(pk__in=[m.pk for m in old]).update(
        created_at=timezone.now() - timedelta(days=8)
    )
    fresh = post(room, author, "fresh")
    assert list(Message.objects.filter(room=room)) == [fresh]
    # Both limits: whichever keeps less.
    both = make_room(retention=2, retention_days=30)
    assert both.retention_summary == (
        "This room keeps the newest 2 messages and messages for 30 days."
    )


def test_set_retention_applies_the_new_policy_now(
    make_room: Callable[..., Room], author: Any
) -> None:
    room = make_room()
    for i in range(5):
        post(room, author, f"m{i}")
    assert services.room_set_retention(room=room, retention=2, retention_days=0) == 3
    with pytest.raises(ValidationError):
        services.room_set_retention(room=room, retention=100_001, retention_days=0)


def test_prune_applies_a_lowered_retention(make_room: Callable[..., Room], author: Any) -> None:
    room = make_room(retention=0)
    for i in range(8):
        post(room, author, f"m{i}")
    room.retention = 5
    room.save()
    assert services.room_prune(room=room) == 3
    assert services.room_prune(room=room) == 0
    assert Message.objects.filter(room=room).count() == 5


def test_delete_across_rooms(make_room: Callable[..., Room], author: Any) -> None:
    one, two = make_room(), make_room()
    doomed = [post(one, author, "a"), post(two, author, "b")]
    keep = post(one, author, "c")
    assert services.message_delete(messages=doomed) == 2
    shown = Message.objects.filter(room__in=[one, two], deleted_at__isnull=True)
    assert list(shown) == [keep]
    # Tombstones: no text left, a new seq each, so resuming pages learn of it.
    tombstones = Message.objects.filter(pk__in=[m.pk for m in doomed])
    assert [(m.body, m.seq) for m in tombstones.order_by("id")] == [("", 3), ("", 2)]


def test_posting_to_a_deleted_room_is_refused(make_room: Callable[..., Room], author: Any) -> None:
    room = make_room()
    Room.objects.filter(pk=room.pk).delete()
    assert error_code(lambda: post(room, author, "anyone?")) == ErrorCode.NOT_FOUND


# ------------------------------------------------------------ edits, deletes, reactions


def test_an_author_edits_within_the_window_and_staff_keep_the_old_text(
    make_room: Callable[..., Room], author: Any, make_user: Callable[..., Any]
) -> None:
    room = make_room()
    message = post(room, author, "helo")
    edited = services.message_edit(room=room, user=author, message_id=message.pk, body="hello")
    assert (edited.body, edited.seq, edited.edited_at is not None) == ("hello", 2, True)
    assert list(MessageEdit.objects.values_list("body", flat=True)) == ["helo"]
    # Someone else's message, an empty edit, and an edit after the window are refused.
    other = make_user()
    assert (
        error_code(
            lambda: services.message_edit(room=room, user=other, message_id=message.pk, body="x")
        )
        == ErrorCode.FORBIDDEN
    )
    assert (
        error_code(
            lambda: services.message_edit(room=room, user=author, message_id=message.pk, body=" ")
        )
        == ErrorCode.INVALID
    )
    Message.objects.filter(pk=message.pk).update(created_at=timezone.now() - timedelta(hours=1))
    with override_settings(CHAT_EDIT_WINDOW_SECONDS=900), pytest.raises(ActionError) as late:
        services.message_edit(room=room, user=author, message_id=message.pk, body="later")
    assert "15 minutes" in late.value.message


def test_deleting_ones_own_message_leaves_a_tombstone_without_its_text(
    make_room: Callable[..., Room], author: Any, make_user: Callable[..., Any]
) -> None:
    room = make_room()
    bob = make_user("bob")
    message = post(room, author, "oops @bob")
    services.message_edit(room=room, user=author, message_id=message.pk, body="oops! @bob")
    services.reaction_toggle(room=room, user=bob, message_id=message.pk, emoji="👍")
    assert (
        error_code(lambda: services.message_delete_own(room=room, user=bob, message_id=message.pk))
        == ErrorCode.FORBIDDEN
    )
    services.message_delete_own(room=room, user=author, message_id=message.pk)
    tombstone = Message.objects.get(pk=message.pk)
    assert (tombstone.body, tombstone.reactions, tombstone.deleted_at is not None) == (
        "",
        {},
        True,
    )
    assert not MessageEdit.objects.exists()
    assert not Reaction.objects.exists()
    assert not Mention.objects.exists()
    # Gone for every later action.
    assert (
        error_code(
            lambda: services.message_delete_own(room=room, user=author, message_id=message.pk)
        )
        == ErrorCode.NOT_FOUND
    )


def test_reactions_toggle_per_user_in_the_offered_order(
    make_room: Callable[..., Room], author: Any, make_user: Callable[..., Any]
) -> None:
    room = make_room()
    bob = make_user("bob")
    message = post(room, author, "lunch?")
    services.reaction_toggle(room=room, user=bob, message_id=message.pk, emoji="🎉")
    services.reaction_toggle(room=room, user=author, message_id=message.pk, emoji="👍")
    services.reaction_toggle(room=room, user=bob, message_id=message.pk, emoji="👍")
    stored = Message.objects.get(pk=message.pk)
    assert stored.reactions == {
        "👍": [[author.pk, author.username], [bob.pk, "bob"]],
        "🎉": [[bob.pk, "bob"]],
    }
    services.reaction_toggle(room=room, user=bob, message_id=message.pk, emoji="👍")
    services.reaction_toggle(room=room, user=bob, message_id=message.pk, emoji="🎉")
    stored = Message.objects.get(pk=message.pk)
    assert stored.reactions == {"👍": [[author.pk, author.username]]}
    assert Reaction.objects.count() == 1
    assert stored.seq == 6  # each toggle is a change pages resume from
    assert (
        error_code(
            lambda: services.reaction_toggle(room=room, user=bob, message_id=message.pk, emoji="🍕")
        )
        == ErrorCode.INVALID
    )


def test_muted_users_cannot_edit_or_react(make_room: Callable[..., Room], author: Any) -> None:
    room = make_room()
    message = post(room, author, "hi")
    services.user_mute(room=room, user=author)
    assert (
        error_code(
            lambda: services.message_edit(room=room, user=author, message_id=message.pk, body="x")
        )
        == ErrorCode.MUTED
    )
    assert (
        error_code(
            lambda: services.reaction_toggle(
                room=room, user=author, message_id=message.pk, emoji="👍"
            )
        )
        == ErrorCode.MUTED
    )


def test_a_send_repeated_with_its_nonce_is_stored_once(
    make_room: Callable[..., Room], author: Any
) -> None:
    room = make_room()
    first = services.message_post(room=room, author=author, body="once", nonce="n-1")
    again = services.message_post(room=room, author=author, body="once", nonce="n-1")
    assert first.pk == again.pk
    assert Message.objects.filter(room=room).count() == 1


# ------------------------------------------------------------ read state


def test_read_cursor_starts_at_the_newest_and_only_moves_forward(
    make_room: Callable[..., Room], author: Any, make_user: Callable[..., Any]
) -> None:
    room = make_room()
    reader = make_user("reader")
    before = [post(room, author, f"b{i}") for i in range(3)]
    assert services.read_open(user=reader, room=room) == before[-1].pk
    after = [post(room, author, f"a{i}") for i in range(4)]
    mention = post(room, author, "hey @reader")
    counts = services.read_mark(user=reader, room=room, message_id=after[1].pk)
    assert counts is not None
    assert (counts.unread, counts.mentions) == (3, 1)
    assert services.read_mark(user=reader, room=room, message_id=after[0].pk) is None
    assert ReadState.objects.get(user=reader, room=room).last_read_id == after[1].pk
    done = services.read_mark(user=reader, room=room, message_id=mention.pk)
    assert done is not None
    assert (done.unread, done.mentions) == (0, 0)


def test_posting_to_a_big_room_costs_the_same_queries_as_to_a_small_one(
    make_room: Callable[..., Room],
    author: Any,
    make_user: Callable[..., Any],
    django_assert_max_num_queries: Any,
) -> None:
    """Unread counts are counted when read: a post writes nothing per member."""
    small, big = make_room(), make_room()
    user_model = get_user_model()
    user_model.objects.bulk_create([user_model(username=f"member{i}") for i in range(200)])
    members = user_model.objects.filter(username__startswith="member")
    ReadState.objects.bulk_create([ReadState(user=m, room=big) for m in members])
    post(small, author, "warm up")
    post(big, author, "warm up")
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as in_small:
        post(small, author, "hello")
    with CaptureQueriesContext(connection) as in_big:
        post(big, author, "hello")
    assert len(in_big) == len(in_small) <= 12


def test_read_cursors_of_a_whole_room_are_written_together(
    make_room: Callable[..., Room], author: Any
) -> None:
    """Readers at the bottom of a busy room all report its newest message: one batch
    moves them all with the same queries whether they are 5 or 100."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    room = make_room()
    user_model = get_user_model()
    user_model.objects.bulk_create([user_model(username=f"reader{i}") for i in range(100)])
    readers = list(user_model.objects.filter(username__startswith="reader").order_by("pk"))
    ReadState.objects.bulk_create([ReadState(user=r, room=room) for r in readers])
    newest = post(room, author, "everyone reads this")
    few = {(r.pk, room.pk): newest.pk for r in readers[:5]}
    many = {(r.pk, room.pk): newest.pk for r in readers[5:]}
    with CaptureQueriesContext(connection) as for_few:
        moved = services.read_marks(marks=few)
    with CaptureQueriesContext(connection) as for_many:
        moved_many = services.read_marks(marks=many)
    assert len(for_few) == len(for_many)
    assert len(moved) == 5
    assert len(moved_many) == 95
    assert {(c.unread, c.mentions) for c in moved_many.values()} == {(0, 0)}
    assert set(ReadState.objects.filter(room=room).values_list("last_read_id", flat=True)) == {
        newest.pk
    }
    # Again: nothing moves, nothing is sent.
    assert services.read_marks(marks=many) == {}


# ------------------------------------------------------------ replies


def test_a_reply_is_stored_with_its_original_and_shows_its_first_line(
    make_room: Callable[..., Room], author: Any, make_user: Callable[..., Any]
) -> None:
    room = make_room()
    original = post(room, make_user("ann"), "First line here\nand a second")
    reply = services.message_post(room=room, author=author, body="yes", reply_to=original.pk)
    assert Message.objects.get(pk=reply.pk).reply_to_id == original.pk
    data = protocol.MessageData.of(reply)
    assert data.reply is not None
    assert (data.reply.id, data.reply.author, data.reply.text, data.reply.deleted) == (
        original.pk,
        protocol.User(id=original.author_id, username="ann"),
        "First line here",
        False,
    )
    assert protocol.MessageData.of(original).reply is None


def test_a_quote_is_cut_to_its_limit() -> None:
    limit = protocol.REPLY_QUOTE_MAX
    assert protocol.quote_line("x" * limit) == "x" * limit
    assert protocol.quote_line("é" * (limit + 1)) == "é" * (limit - 1) + "…"
    assert protocol.quote_line("one\ntwo") == "one"


def test_a_reply_to_another_rooms_or_a_deleted_message_is_refused(
    make_room: Callable[..., Room], author: Any
) -> None:
    room, other = make_room(), make_room()
    elsewhere = post(other, author, "over there")
    gone = post(room, author, "soon gone")
    services.message_delete_own(room=room, user=author, message_id=gone.pk)
    for original in (elsewhere, gone):
        with pytest.raises(ActionError) as caught:
            services.message_post(room=room, author=author, body="hm", reply_to=original.pk)
        assert caught.value.code == ErrorCode.NOT_FOUND
        assert caught.value.message == "The message you are replying to is no longer here."
    assert not Message.objects.filter(body="hm").exists()


def test_a_reply_reads_its_original_as_it_is_now_without_a_query_per_message(
    make_room: Callable[..., Room],
    author: Any,
    django_assert_num_queries: Callable[..., Any],
) -> None:
    room = make_room()
    originals = [post(room, author, f"original {i}") for i in range(3)]
    for original in originals:
        services.message_post(room=room, author=author, body="re", reply_to=original.pk)
    services.message_edit(room=room, user=author, message_id=originals[0].pk, body="changed\nx")
    services.message_delete_own(room=room, user=author, message_id=originals[1].pk)
    Message.objects.filter(pk=originals[2].pk).delete()  # pruned: its id stays on the reply
    with django_assert_num_queries(2):  # the page, and the files of all of it
        messages, _ = selectors.message_recent(room=room, limit=10)
        replies = [protocol.MessageData.of(m).reply for m in messages if m.body == "re"]
    assert [(r.text, r.deleted, r.author) for r in replies if r is not None] == [
        ("changed", False, protocol.User(id=author.pk, username=author.get_username())),
        ("", True, None),
        ("", True, None),
    ]
