"""The guide's nginx (docs/deploy.md, its own config block) in front of the guide's
command (the unit's ``ExecStart``: ``manage.py serve``) with the guide's proxy settings:
what a client writes in ``X-Forwarded-For``, ``Forwarded`` or ``X-Real-IP`` changes
nothing. Every limit and log line counts the address nginx saw. Files in chat go out
through nginx's internal location (``X-Accel-Redirect``), to those who may see them.

Each client connects from an address of its own on the loopback network (127.0.0.x):
nginx sees it as ``$remote_addr``, so an attacker and a victim are two real addresses.

Not marked ``deploy``: nginx starts in a moment, so this runs with `make test` (CI
installs nginx); `test_guide.py` is the slow check of the whole guide.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import re
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
import websockets

from chat.models import Attachment
from chat.services import message_post
from tests.chat.files_helpers import png
from tests.conftest import ROOT, child_env, free_port, require, session_cookie, ws_next
from tests.deploy.test_guide import (
    Site,
    block,
    make_certificate,
    nginx_config,
    replaced,
    tls_context,
    wait_ready,
)

pytestmark = pytest.mark.django_db(transaction=True)

LOGINS = 5  # LOGIN_FAILURES_PER_ADDRESS
SIGNUPS = 3  # SIGNUPS_PER_ADDRESS
VISITOR_SOCKETS = 4  # RT_MAX_SOCKETS_PER_ADDRESS
PASSWORD = "pw-for-tests-only"  # make_user's
# The guide's settings about what a proxy says (the rest of its file is for a real host).
PROXY_SETTINGS = ("TRUST_X_FORWARDED_PROTO", "RT_TRUSTED_PROXY_COUNT", "CHAT_UPLOAD_ACCEL_REDIRECT")


@dataclass
class Proxied:
    site: Site
    var: Path

    @property
    def origin(self) -> str:
        return self.site.url

    def worker_log(self) -> str:
        return (self.var / "serve" / "worker_00.log").read_text()


def guide_settings() -> dict[str, str]:
    lines = (line.split("=", 1) for line in block("env").splitlines() if "=" in line)
    return {name: value for name, value in lines if name in PROXY_SETTINGS}


@pytest.fixture(scope="module")
def proxied(django_db_setup: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxied]:
    require(shutil.which("nginx") is not None, "Debian's nginx (apt-get install nginx-light)")
    require(shutil.which("openssl") is not None, "openssl")
    directory = tmp_path_factory.mktemp("proxied")
    var = directory / "var"
    (var / "static").mkdir(parents=True)
    site = Site(
        home=ROOT,
        var=var,
        env_file=directory / "env",  # unused: the settings come from the guide's block
        port=free_port(),
        serve_port=free_port(),
        database="",
    )
    start = re.search(r"^ExecStart=(.*)$", block("unit"), re.M)
    assert start
    command = replaced(
        start.group(1),
        ("/srv/rtsite/.venv/bin/python", sys.executable),
        ("--workers 4", "--workers 1"),
        ("--port 8000", f"--port {site.serve_port}"),
    ).split()
    env = child_env(
        **guide_settings(),
        RTSITE_VAR_DIR=str(var),
        LOG_FORMAT="json",
        LOGIN_FAILURES_PER_ADDRESS=str(LOGINS),
        SIGNUPS_PER_ADDRESS=str(SIGNUPS),
        RT_MAX_SOCKETS_PER_ADDRESS=str(VISITOR_SOCKETS),
        RT_WATCHDOG_SECONDS="0",
    )
    env.pop("METRICS_TOKEN", None)
    env.pop("UPLOADS_STORAGE_OPTIONS", None)  # the default, as on a host: $RTSITE_VAR_DIR/uploads
    with open(directory / "serve.log", "wb") as out:
        workers = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=out)
    cert, key = make_certificate(directory)
    config = nginx_config(site, directory, cert, key)
    nginx = subprocess.Popen(["nginx", "-c", str(config), "-g", "daemon off;"])
    try:
        wait_ready(f"{site.url}/healthz/ready")
        yield Proxied(site=site, var=var)
    finally:
        nginx.send_signal(signal.SIGQUIT)
        workers.send_signal(signal.SIGTERM)  # supervisord drains and stops its worker
        for process in (nginx, workers):
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def request(
    server: Proxied,
    method: str,
    path: str,
    *,
    source: str,
    headers: dict[str, str] | None = None,
    body: bytes | None = None,
) -> tuple[int, http.client.HTTPResponse, bytes]:
    """One request through nginx from ``source`` (a loopback address)."""
    connection = http.client.HTTPSConnection(
        "127.0.0.1",
        server.site.port,
        context=tls_context(),
        source_address=(source, 0),
        timeout=10,
    )
    try:
        connection.request(
            method,
            path,
            body=body,
            headers={"Host": f"localhost:{server.site.port}", **(headers or {})},
        )
        reply = connection.getresponse()
        return reply.status, reply, reply.read()
    finally:
        connection.close()


def post_form(
    server: Proxied, path: str, fields: dict[str, str], *, source: str, forged: dict[str, str]
) -> int:
    """A form posted as a browser would (the CSRF cookie and token from the page),
    with the forged headers on the POST."""
    status, reply, page = request(server, "GET", path, source=source)
    assert status == 200, page[-500:]
    cookie = re.search(r"csrftoken=([^;]+)", reply.getheader("Set-Cookie", ""))
    token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    assert cookie
    assert token
    status, _, body = request(
        server,
        "POST",
        path,
        source=source,
        body=urlencode({**fields, "csrfmiddlewaretoken": token.group(1).decode()}).encode(),
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "Cookie": f"csrftoken={cookie.group(1)}",
            "Origin": server.origin,
            **forged,
        },
    )
    assert status in (200, 302, 429), body[-500:]
    return status


def log_in(
    server: Proxied, username: str, password: str, *, source: str, forged: dict[str, str]
) -> int:
    fields = {"username": username, "password": password}
    return post_form(server, "/accounts/login/", fields, source=source, forged=forged)


async def visitor_socket(server: Proxied, *, source: str, forged: dict[str, str]) -> Any:
    return await websockets.connect(
        f"{server.origin.replace('https://', 'wss://')}/ws/notifications/",
        host="127.0.0.1",
        local_addr=(source, 0),
        origin=server.origin,  # type: ignore[arg-type]
        additional_headers=forged,
        ssl=tls_context(),
        proxy=None,
        open_timeout=10,
    )


async def refused_with(ws: Any) -> int | None:
    """The close code of a socket refused after its accept, or None if it got its sync."""
    try:
        await ws_next(ws, "sync")
    except websockets.ConnectionClosed as closed:
        return closed.rcvd.code if closed.rcvd else None
    return None


def forged_by(header: str, address: str) -> dict[str, str]:
    if header == "Forwarded":
        return {header: f"for={address}"}
    return {header: address}


def test_logins_with_forged_addresses_still_meet_the_limit(proxied: Proxied) -> None:
    source = "127.0.0.11"
    statuses = [
        log_in(
            proxied,
            "nobody",
            "wrong",
            source=source,
            # Each a new address, once alone and once as a chain a proxy would have sent.
            forged={"X-Forwarded-For": f"198.51.100.{n}" + (", 10.0.0.1" if n % 2 else "")},
        )
        for n in range(LOGINS + 3)
    ]
    assert statuses == [200] * LOGINS + [429] * 3
    # The log names the address nginx saw, never the forged one.
    lines = [json.loads(line) for line in proxied.worker_log().splitlines() if line[:1] == "{"]
    posts = [
        line
        for line in lines
        if line.get("logger") == "rtsite.access" and '"POST /accounts/login/"' in line["message"]
    ]
    assert posts
    assert {line["client"] for line in posts} >= {source}
    assert not any("198.51.100." in line["message"] + line["client"] for line in posts)


def test_signups_with_forged_addresses_still_meet_the_limit(proxied: Proxied) -> None:
    statuses = [
        post_form(
            proxied,
            "/accounts/signup/",
            {"username": f"new{n}", "password1": "a-fine-pw-8841", "password2": "not-the-same"},
            source="127.0.0.12",
            forged={"X-Forwarded-For": f"198.51.100.{n}"},
        )
        for n in range(SIGNUPS + 2)
    ]
    assert statuses == [200] * SIGNUPS + [429] * 2


@pytest.mark.parametrize("header", ["X-Forwarded-For", "Forwarded", "X-Real-IP"])
def test_a_forger_cannot_lock_out_another_address(
    proxied: Proxied, make_user: Callable[..., Any], header: str
) -> None:
    user = make_user()
    number = ["X-Forwarded-For", "Forwarded", "X-Real-IP"].index(header)
    attacker, victim = f"127.0.1.{number}", f"127.0.2.{number}"
    posing = forged_by(header, victim)
    for _ in range(LOGINS + 1):
        log_in(proxied, user.username, "wrong", source=attacker, forged=posing)
    assert log_in(proxied, user.username, PASSWORD, source=victim, forged={}) == 302
    # The attacker's own address is the one that met the limit.
    assert log_in(proxied, user.username, "wrong", source=attacker, forged={}) == 429


async def test_the_visitor_socket_cap_holds_whatever_the_headers_say(proxied: Proxied) -> None:
    source = "127.0.0.13"
    sockets = []
    try:
        for n in range(VISITOR_SOCKETS):
            ws = await visitor_socket(
                proxied, source=source, forged={"X-Forwarded-For": f"198.51.100.{n}"}
            )
            sockets.append(ws)
            assert await refused_with(ws) is None
        over = await visitor_socket(
            proxied, source=source, forged={"X-Forwarded-For": "198.51.100.99"}
        )
        sockets.append(over)
        assert await refused_with(over) == 4429
    finally:
        for ws in sockets:
            await ws.close()


async def test_a_forger_cannot_take_another_addresss_visitor_places(proxied: Proxied) -> None:
    attacker, victim = "127.0.0.14", "127.0.0.15"
    sockets = []
    try:
        for _ in range(VISITOR_SOCKETS):
            ws = await visitor_socket(proxied, source=attacker, forged={"X-Forwarded-For": victim})
            sockets.append(ws)
            await refused_with(ws)
        mine = await visitor_socket(proxied, source=victim, forged={})
        sockets.append(mine)
        assert await refused_with(mine) is None
        # The attacker's own address is the one that is full.
        theirs = await visitor_socket(proxied, source=attacker, forged={})
        sockets.append(theirs)
        assert await refused_with(theirs) == 4429
    finally:
        for ws in sockets:
            await ws.close()


@pytest.mark.parametrize("header", ["X-Forwarded-For", "Forwarded", "X-Real-IP"])
def test_metrics_refuses_every_proxy_header(proxied: Proxied, header: str) -> None:
    # Through nginx: denied in any case.
    assert request(proxied, "GET", "/metrics", source="127.0.0.16")[0] == 403
    # On the host itself, past nginx: answered, unless a proxy header says the request
    # came from elsewhere (whoever sent it, the address is not the caller's).
    direct = http.client.HTTPConnection("127.0.0.1", proxied.site.serve_port, timeout=10)

    def scrape(headers: dict[str, str]) -> int:
        direct.request("GET", "/metrics", headers=headers)
        reply = direct.getresponse()
        reply.read()
        return reply.status

    try:
        assert scrape({}) == 200
        assert scrape(forged_by(header, "127.0.0.1")) == 403
    finally:
        direct.close()


async def test_the_socket_log_lines_carry_the_client(proxied: Proxied) -> None:
    source = "127.0.0.17"
    ws = await visitor_socket(proxied, source=source, forged={"X-Forwarded-For": "198.51.100.7"})
    await refused_with(ws)
    await ws.close()
    async with asyncio.timeout(10):  # the close line comes once the server has seen it
        while True:
            lines = [
                json.loads(line) for line in proxied.worker_log().splitlines() if line[:1] == "{"
            ]
            ours = [
                line
                for line in lines
                if line.get("logger") == "rtsite.access"
                and line["message"].startswith("socket ")
                and line.get("client") == source
            ]
            if len(ours) == 2:
                break
            await asyncio.sleep(0.2)
    opened, closed = ours
    assert opened["message"] == f'socket {source} "/ws/notifications/" opened'
    assert closed["message"].startswith(f'socket {source} "/ws/notifications/" closed ')
    assert opened["socket_id"] == closed["socket_id"]


def logged_in(server: Proxied, user: Any, *, source: str) -> dict[str, str]:
    """Headers of requests as ``user`` (their session, and the CSRF token a page gives)."""
    session = session_cookie(user)
    status, reply, _page = request(
        server, "GET", "/chat/", source=source, headers={"Cookie": session}
    )
    assert status == 200
    cookie = re.search(r"csrftoken=([^;]+)", reply.getheader("Set-Cookie", ""))
    assert cookie
    return {
        "Cookie": f"{session}; csrftoken={cookie.group(1)}",
        "X-CSRFToken": cookie.group(1),
        "Origin": server.origin,
    }


def test_files_go_out_through_nginx_to_those_who_may_see_them(
    proxied: Proxied,
    make_user: Callable[..., Any],
    make_room: Callable[..., Any],
) -> None:
    room = make_room()
    alice = logged_in(proxied, make_user("alice"), source="127.0.0.31")
    bob = logged_in(proxied, make_user("bob"), source="127.0.0.32")
    boundary = "----rtsite-test"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\n'
            "Content-Type: image/png\r\n\r\n"
        ).encode()
        + png()
        + f"\r\n--{boundary}--\r\n".encode()
    )
    status, _, answer = request(
        proxied,
        "POST",
        f"/chat/{room.slug}/files/",
        source="127.0.0.31",
        body=body,
        headers={**alice, "Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    assert status == 201, answer
    data = json.loads(answer)["attachment"]
    stored = Attachment.objects.get(pk=data["id"])
    kept = (proxied.var / "uploads" / stored.file).read_bytes()
    # Pending: its uploader's only.
    assert request(proxied, "GET", data["url"], source="127.0.0.32", headers=bob)[0] == 404
    message_post(room=room, author=stored.uploader, body="", attachments=[stored.pk])
    status, reply, sent = request(proxied, "GET", data["url"], source="127.0.0.32", headers=bob)
    assert status == 200
    assert sent == kept  # from nginx's internal location, not the worker
    assert reply.getheader("X-Accel-Redirect") is None
    assert reply.getheader("Content-Type") == "image/png"
    assert reply.getheader("Content-Disposition", "").startswith('inline; filename="a.png"')
    assert reply.getheader("X-Content-Type-Options") == "nosniff"
    assert "sandbox" in reply.getheader("Content-Security-Policy", "")
    assert reply.getheader("Cache-Control") == "private, max-age=3600"
    status, reply, thumb = request(
        proxied, "GET", data["thumbnail"], source="127.0.0.32", headers=bob
    )
    assert reply.getheader("Content-Type") == "image/webp"
    assert thumb == (proxied.var / "uploads" / stored.thumbnail).read_bytes()
    # The internal location answers no one directly, with or without a login.
    for who in ({}, bob):
        status, _, _ = request(
            proxied, "GET", f"/_uploads/{stored.file}", source="127.0.0.32", headers=who
        )
        assert status == 404
