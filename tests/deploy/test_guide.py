"""docs/deploy.md followed as written, as root on a fresh Debian 12.

Every block marked ``guide:`` is taken in order: a shell block is typed at a root login
shell of a fresh Debian 12 (``tests/deploy/machine.py``: debootstrap's image under an
overlay, in namespaces of its own), each command shown and the first that fails failing
the check; a block with ``file=PATH`` is what the operator saves in that file (into the
file as an earlier step left it: its mode and owner stay). Nothing is dropped or made
ready beforehand. What is replaced is only what an operator fills in (the secret key,
the database's name, the clone's address), what a test machine cannot have (a
certificate authority: a self-signed certificate instead; ports 80, 443 and 8000, shared
with the host: free ones), and the interactive password prompt. Each replacement must
apply, so a changed guide is noticed.

Then, through the guide's nginx: the static files, health, the metrics guard, a login
on a non-default port over TLS, two sockets over ``wss://`` with a message between them,
the daily timer's service run once, an upgrade to a new commit (the guide's steps) under
those sockets, each told and closed with 1012 and back on the new code, and a backup.

Slow (apt, pip, a fresh install), so not part of `make test`: `make deploy-check`, which
CI runs once. The first run on a machine also builds the Debian image (about a minute).
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import json
import os
import re
import resource
import shutil
import ssl
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
import redis
import websockets

from tests.conftest import ROOT, free_port, require
from tests.deploy.machine import Machine, machine, tools_missing

pytestmark = pytest.mark.deploy

# Another text of the guide to follow (an older one, to see what the check finds in it).
GUIDE = Path(os.environ.get("RTSITE_DEPLOY_GUIDE") or ROOT / "docs" / "deploy.md")
PASSWORD = "deploy-check-password-1"
PG = "postgres://postgres@127.0.0.1:5432/postgres"
HOST = "chat.example.com"
SERVICE_FOLDERS = ("/srv/rtsite", "/var/lib/rtsite")
STEP = re.compile(r"<!-- guide:([a-z-]+)((?: [a-z]+=\S+)*) -->\n```([a-z]*)\n(.*?)```", re.S)


@dataclass
class Step:
    name: str
    file: str | None  # where the operator saves it; None: typed at the shell
    text: str


def steps() -> list[Step]:
    """The guide's blocks, in order."""
    found = []
    for name, options, _language, text in STEP.findall(GUIDE.read_text()):
        settings = dict(option.split("=", 1) for option in options.split())
        found.append(Step(name=name, file=settings.get("file"), text=text))
    return found


def block(name: str) -> str:
    """The code block after ``<!-- guide:name ... -->`` in the guide."""
    found = [step.text for step in steps() if step.name == name]
    assert found, f"docs/deploy.md has no guide:{name} block"
    return found[0]


def replaced(text: str, *pairs: tuple[str, str]) -> str:
    """``text`` with each replacement made; each must apply (the guide changed if not)."""
    for old, new in pairs:
        assert old in text, f"the guide no longer says {old!r}"
        text = text.replace(old, new)
    return text


@dataclass
class Site:
    home: Path  # the clone (/srv/rtsite)
    var: Path  # RTSITE_VAR_DIR (/var/lib/rtsite)
    env_file: Path  # /etc/rtsite/env
    port: int  # nginx, https
    serve_port: int  # make serve's socket
    database: str
    host: str = "localhost"  # the site's name (nginx's server_name)
    http_port: int = 0  # nginx, plain http (0: none)

    @property
    def url(self) -> str:
        return f"https://{self.host}:{self.port}"


def tls_context() -> ssl.SSLContext:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def make_certificate(directory: Path, name: str = "localhost") -> tuple[Path, Path]:
    cert, key = directory / "site.pem", directory / "site.key"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
            *("-subj", f"/CN={name}", "-keyout", str(key), "-out", str(cert)),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


def nginx_config(site: Site, directory: Path, cert: Path, key: Path) -> Path:
    """The guide's nginx block in an nginx.conf of its own (for a test on this host)."""
    server = replaced(
        block("nginx"),
        ("listen 80;", f"listen 127.0.0.1:{site.http_port or free_port()};"),
        ("listen 443 ssl http2;", f"listen {site.port} ssl http2;"),
        ("server_name chat.example.com;", "server_name localhost;"),
        ("/etc/letsencrypt/live/chat.example.com/fullchain.pem", str(cert)),
        ("/etc/letsencrypt/live/chat.example.com/privkey.pem", str(key)),
        ("/var/lib/rtsite/static/", f"{site.var}/static/"),
        ("/var/lib/rtsite/uploads/", f"{site.var}/uploads/"),
        ("server 127.0.0.1:8000;", f"server 127.0.0.1:{site.serve_port};"),
        ("root /var/www/html;", f"root {directory};"),
    )
    config = directory / "nginx.conf"
    config.write_text(
        f"""user root;
worker_processes 1;
pid {directory}/nginx.pid;
error_log {directory}/nginx-error.log;
events {{ worker_connections 1024; }}
http {{
    include /etc/nginx/mime.types;
    access_log {directory}/nginx-access.log;
    client_body_temp_path {directory}/body;
    proxy_temp_path {directory}/proxy;
    fastcgi_temp_path {directory}/fastcgi;
    uwsgi_temp_path {directory}/uwsgi;
    scgi_temp_path {directory}/scgi;
{server}
}}
"""
    )
    return config


def wait_ready(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2, context=tls_context()) as reply:  # noqa: S310
                if reply.status == 200:
                    return
        except (OSError, urllib.error.HTTPError):
            time.sleep(0.3)
    raise RuntimeError(f"{url} did not become ready")


@dataclass
class Deployed:
    machine: Machine
    site: Site
    source: Path  # the repository the guide clones (served by git daemon)
    later: list[Step]  # the guide's steps from "Upgrading" on: run by the test in turn
    replacements: dict[str, Any]

    def shell(self, script: str) -> subprocess.CompletedProcess[str]:
        done = self.machine.run(script)
        assert done.returncode == 0, f"{script}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        return done

    def manage(self, *args: str) -> subprocess.CompletedProcess[str]:
        """A command as the guide says to run one."""
        return self.shell(f"cd /srv/rtsite && sudo -u rtsite bin/manage {' '.join(args)}")

    def follow(self, step: Step) -> None:
        follow(self.machine, step, self.replacements.get(step.name, ()))


def follow(host: Machine, step: Step, replacements: Any) -> None:
    """One step of the guide, as the operator takes it."""
    text = replacements(step.text) if callable(replacements) else replaced(step.text, *replacements)
    if step.file is not None:
        # Saved in an editor: into the file an earlier step made (its mode and owner
        # stay), or a new one (root's, 0644).
        target = host.path(step.file)
        assert target.parent.is_dir(), f"guide:{step.name}: {step.file}'s folder does not exist"
        target.write_text(text)
        return
    done = host.run(text)
    assert done.returncode == 0, (
        f"guide:{step.name} failed as written (the last command shown failed):\n"
        f"{done.stdout[-4000:]}\n{done.stderr[-6000:]}"
    )
    # What a step leaves in the service's folders is the service's: root's files there
    # would stop it from writing its state when it is not started by systemd (which
    # hands StateDirectory back at a start, not at a reload).
    left = host.run(f"find {' '.join(SERVICE_FOLDERS)} -user root 2>/dev/null | head -n 5")
    assert not left.stdout.strip(), (
        f"guide:{step.name} left files of root's in the service's folders:\n{left.stdout}"
    )


def serve_source(directory: Path) -> tuple[Path, subprocess.Popen[bytes], str]:
    """HEAD of this checkout in a bare repository, served over git:// on the host."""
    bare = directory / "git" / "rtsite.git"
    subprocess.run(
        ["git", "clone", "--quiet", "--bare", "--no-local", str(ROOT), str(bare)],
        check=True,
        capture_output=True,
    )
    port = free_port()
    daemon = subprocess.Popen(
        [
            *("git", "daemon", "--export-all", "--reuseaddr", "--informative-errors"),
            *(f"--base-path={bare.parent}", "--listen=127.0.0.1", f"--port={port}"),
            str(bare.parent),
        ],
        stderr=subprocess.DEVNULL,
    )
    return bare, daemon, f"git://127.0.0.1:{port}/rtsite.git"


def services_up() -> None:
    require(os.geteuid() == 0, "root (a chroot, mounts and namespaces of its own)")
    missing = tools_missing() + [t for t in ("git", "openssl") if not shutil.which(t)]
    require(not missing, f"{', '.join(missing)} (apt-get install debootstrap git openssl)")
    try:
        psycopg.connect(PG, connect_timeout=3).close()
        postgres = True
    except psycopg.Error:
        postgres = False
    require(postgres, "PostgreSQL at 127.0.0.1:5432 (trust auth for postgres)")
    try:
        redis.Redis(socket_connect_timeout=2).ping()
        redis_up = True
    except redis.RedisError:
        redis_up = False
    require(redis_up, "Redis at 127.0.0.1:6379")


@pytest.fixture
def deployed(tmp_path: Path) -> Iterator[Deployed]:
    services_up()
    database = f"rtsite_deploy_{uuid.uuid4().hex[:8]}"
    prefix = f"rtsite-deploy-{uuid.uuid4().hex[:8]}"
    secret = uuid.uuid4().hex * 2
    cert, key = make_certificate(tmp_path, HOST)
    source, daemon, source_url = serve_source(tmp_path)
    with contextlib.ExitStack() as cleanup:
        cleanup.callback(daemon.wait, timeout=10)
        cleanup.callback(daemon.terminate)
        host = cleanup.enter_context(machine(tmp_path / "machine"))
        site = Site(
            home=host.path("/srv/rtsite"),
            var=host.path("/var/lib/rtsite"),
            env_file=host.path("/etc/rtsite/env"),
            port=free_port(),
            serve_port=free_port(),
            database=database,
            host=HOST,
            http_port=free_port(),
        )
        certificate = block("certificate")
        certbot = certificate[certificate.index("certbot certonly") :]
        replacements: dict[str, Any] = {
            "install": [("https://example.com/rtsite.git", source_url)],
            # The host's server, through its own socket-less address (no peer auth).
            "database": [
                ("sudo -u postgres psql", "sudo -u postgres psql -h 127.0.0.1 -U postgres"),
                ("ROLE rtsite ", f"ROLE {database} "),
                ("DATABASE rtsite OWNER rtsite", f"DATABASE {database} OWNER {database}"),
            ],
            # The host's Redis is shared with other runs: key prefixes of this run's own.
            "env": lambda text: (
                replaced(
                    text,
                    ("SECRET_KEY=replace-with-50-random-characters", f"SECRET_KEY={secret}"),
                    (
                        "rtsite:a-long-random-password@127.0.0.1:5432/rtsite",
                        f"{database}:a-long-random-password@127.0.0.1:5432/{database}",
                    ),
                )
                + f"REDIS_KEY_PREFIX={prefix}\nCHANNEL_LAYER_PREFIX={prefix}\n"
            ),
            "prepare": [
                (
                    "sudo -u rtsite bin/manage createsuperuser",
                    f"sudo -u rtsite DJANGO_SUPERUSER_PASSWORD={PASSWORD} bin/manage"
                    " createsuperuser",
                ),
                ("--email admin@example.com", "--email admin@example.com --no-input"),
            ],
            "unit": [("--workers 4", "--workers 2"), ("--port 8000", f"--port {site.serve_port}")],
            "certificate": [(certbot, f"mkdir -p /etc/letsencrypt/live/{HOST}\n")],
            "nginx": [
                ("listen 80;", f"listen {site.http_port};"),
                ("listen 443 ssl http2;", f"listen {site.port} ssl http2;"),
                ("server 127.0.0.1:8000;", f"server 127.0.0.1:{site.serve_port};"),
            ],
            "backup": [
                ("sudo -u postgres pg_dump", "sudo -u postgres pg_dump -h 127.0.0.1 -U postgres"),
                ("--format=custom rtsite >", f"--format=custom {database} >"),
            ],
        }
        everything = steps()
        names = [step.name for step in everything]
        assert "upgrade" in names
        first = names.index("upgrade")
        try:
            for step in everything[:first]:
                follow(host, step, replacements.get(step.name, ()))
                if step.name == "certificate":  # what certbot would have saved
                    live = host.path(f"/etc/letsencrypt/live/{HOST}")
                    shutil.copy(cert, live / "fullchain.pem")
                    shutil.copy(key, live / "privkey.pem")
            wait_https_ready(site)
            yield Deployed(
                machine=host,
                site=site,
                source=source,
                later=everything[first:],
                replacements=replacements,
            )
        finally:
            host.stop()
            with psycopg.connect(PG, autocommit=True) as connection:
                connection.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
                connection.execute(f'DROP ROLE IF EXISTS "{database}"')
            client = redis.Redis()
            for key_name in client.scan_iter(match=f"{prefix}*", count=1000):
                client.delete(key_name)


def https(
    site: Site,
    method: str,
    path: str,
    *,
    headers: dict[str, str] | None = None,
    body: bytes | None = None,
) -> tuple[int, http.client.HTTPResponse, bytes]:
    """A request to the site's name through nginx (the name is not in this host's DNS:
    the connection goes to 127.0.0.1, the name in Host and the TLS handshake)."""
    connection = http.client.HTTPSConnection(
        "127.0.0.1", site.port, context=tls_context(), timeout=10
    )
    try:
        connection.request(
            method, path, body=body, headers={"Host": f"{site.host}:{site.port}", **(headers or {})}
        )
        reply = connection.getresponse()
        return reply.status, reply, reply.read()
    finally:
        connection.close()


def wait_https_ready(site: Site, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if https(site, "GET", "/healthz/ready")[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"{site.url}/healthz/ready did not become ready")


def cookies(reply: http.client.HTTPResponse) -> dict[str, str]:
    """Each Set-Cookie: name -> the whole header (its attributes too)."""
    return {header.split("=", 1)[0]: header for header in reply.headers.get_all("Set-Cookie") or []}


def log_in(site: Site) -> str:
    """Log in as the superuser through nginx, as a browser does; the session cookie."""
    status, reply, page = https(site, "GET", "/accounts/login/")
    assert status == 200
    csrf = cookies(reply)["csrftoken"].split(";")[0]
    token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    assert token
    form = {"username": "admin", "password": PASSWORD, "csrfmiddlewaretoken": token.group(1)}
    status, reply, body = https(
        site,
        "POST",
        "/accounts/login/",
        body=urllib.parse.urlencode(form).encode(),
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "Cookie": csrf,
            "Origin": site.url,
            "Referer": f"{site.url}/accounts/login/",
        },
    )
    assert status == 302, f"the login through nginx was refused (CSRF?): {body[-500:]!r}"
    session = cookies(reply)["sessionid"]
    assert "; Secure" in session
    return session.split(";")[0]


def test_the_deploy_guide_works_as_written(deployed: Deployed) -> None:
    site = deployed.site
    # Static files from nginx, where collectstatic put them.
    status, reply, body = https(site, "GET", "/static/realtime/live.js")
    assert status == 200
    assert body == (site.var / "static" / "realtime" / "live.js").read_bytes()
    assert reply.getheader("Server", "").startswith("nginx")
    # Plain http: a redirect to https.
    connection = http.client.HTTPConnection("127.0.0.1", site.http_port, timeout=10)
    connection.request("GET", "/accounts/login/", headers={"Host": site.host})
    redirect = connection.getresponse()
    assert redirect.status == 301
    assert redirect.getheader("Location") == f"https://{site.host}/accounts/login/"
    connection.close()
    # Health through nginx; HSTS on https answers.
    status, _, body = https(site, "GET", "/healthz/ready")
    assert status == 200, body
    assert json.loads(body)["draining"] == "no"
    assert https(site, "GET", "/healthz/live")[0] == 200
    _, reply, _ = https(site, "GET", "/accounts/login/")
    assert "max-age=3600" in reply.getheader("Strict-Transport-Security", "")
    # /metrics: refused through nginx; on the host with the token, the workers' sums.
    assert https(site, "GET", "/metrics")[0] == 403
    token = re.search(r"^METRICS_TOKEN=(.*)$", site.env_file.read_text(), re.M)
    assert token
    scrape = urllib.request.Request(
        f"http://127.0.0.1:{site.serve_port}/metrics",
        headers={"Authorization": f"Bearer {token.group(1)}"},
    )
    with urllib.request.urlopen(scrape, timeout=10) as reply:  # noqa: S310
        assert b"rtsite_redis_latency_seconds_count" in reply.read()
    # The service's files are the service's; its workers may open as many files as
    # systemd allows (the unit sets no LimitNOFILE: systemd's 1024 soft, 524288 hard, or
    # what the host allows).
    owners = deployed.shell(
        "stat -c '%U %n' /srv/rtsite /var/lib/rtsite /var/lib/rtsite/static"
        " /var/lib/rtsite/serve /var/lib/rtsite/serve/worker_00.log"
    ).stdout.split("\n")
    assert all(line.startswith("rtsite ") for line in owners if line), owners
    limits = deployed.shell(
        "for pid in $(pgrep -u rtsite -f 'daphne'); do grep 'open files' /proc/$pid/limits; done"
    ).stdout.splitlines()
    assert len(limits) == 2, limits
    hard = str(min(524288, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))
    assert all(line.split()[3:5] == [hard, hard] for line in limits), limits
    # The daily upkeep: its timer is on, and its service does its work.
    assert "rtsite-daily.timer" in deployed.shell("systemctl list-timers").stdout
    deployed.shell("systemctl start rtsite-daily.service")
    # An operator makes a room; a visitor logs in on a non-default port (CSRF compares
    # the Origin with Host: $http_host).
    deployed.manage("create_room", "general")
    cookie = log_in(site)
    asyncio.run(upgrade_under_sockets(deployed, cookie))
    wait_https_ready(site)
    # The guide's other way to restart: make, as the service's user, with the service's
    # settings; it installs nothing (no development tools in production).
    restart = deployed.shell("cd /srv/rtsite && sudo -u rtsite make restart")
    assert "worker_01 restarted" in restart.stdout, restart.stdout
    deployed.shell("test ! -e /srv/rtsite/.venv/bin/pytest && test ! -e /srv/rtsite/.venv/bin/ruff")
    wait_https_ready(site)
    # The rest (the backup): as written, then what it made.
    for step in deployed.later[1:]:
        deployed.follow(step)
    dumps = deployed.shell("ls /var/backups/rtsite/").stdout.split()
    assert len(dumps) == 1
    listing = deployed.shell(f"pg_restore --list /var/backups/rtsite/{dumps[0]}").stdout
    assert "TABLE DATA public chat_message" in listing


async def upgrade_under_sockets(deployed: Deployed, cookie: str) -> None:
    """Sockets over wss:// as the logged-in user; a message crosses; then the guide's
    upgrade to a new commit (a rolling restart): each socket is told and closed with
    1012, and a socket opened then is served by the new code."""
    site = deployed.site
    ws_url = f"wss://{site.host}:{site.port}"
    connect: dict[str, Any] = {
        "host": "127.0.0.1",
        "origin": site.url,
        "additional_headers": {"Cookie": cookie},
        "ssl": tls_context(),
        "proxy": None,
        "open_timeout": 10,
    }
    # The next release: a new static file, to be served once the upgrade is done.
    release, marker = new_commit(deployed.source)
    assert deployed.later[0].name == "upgrade"
    async with (
        websockets.connect(f"{ws_url}/ws/chat/general/", **connect) as one,
        websockets.connect(f"{ws_url}/ws/chat/general/", **connect) as two,
    ):
        for ws in (one, two):
            sync = await next_frame(ws, "sync")
            assert sync["me"]["username"] == "admin"
        await one.send(json.dumps({"type": "message.send", "body": "deployed", "ref": "d1"}))
        assert (await next_frame(two, "message"))["message"]["body"] == "deployed"
        upgrade = asyncio.create_task(asyncio.to_thread(deployed.follow, deployed.later[0]))
        closing = await next_frame(one, "closing", timeout=120)
        assert closing["reason"] == "restart"
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await next_frame(one, "never", timeout=120)
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == 1012
        await upgrade
    head = deployed.shell("sudo -u rtsite git -C /srv/rtsite rev-parse HEAD").stdout.strip()
    assert head == release
    assert https(site, "GET", "/static/rtsite/release.txt")[2] == marker.encode()
    async with websockets.connect(f"{ws_url}/ws/chat/general/", **connect) as three:
        sync = await next_frame(three, "sync")
        assert [m["body"] for m in sync["messages"]][-1:] == ["deployed"]


def new_commit(bare: Path) -> tuple[str, str]:
    """A commit on the served repository that adds static/rtsite/release.txt: its id,
    and what the file says."""
    work = bare.parent / "work"
    git = ["git", "-C", str(work), "-c", "user.name=check", "-c", "user.email=check@example.com"]
    subprocess.run(["git", "clone", "--quiet", str(bare), str(work)], check=True)
    marker = f"release {uuid.uuid4().hex}"
    (work / "static" / "rtsite" / "release.txt").write_text(marker)
    subprocess.run([*git, "add", "static/rtsite/release.txt"], check=True)
    subprocess.run([*git, "commit", "--quiet", "-m", "the next release"], check=True)
    subprocess.run([*git, "push", "--quiet", "origin", "HEAD"], check=True)
    release = subprocess.run(
        [*git, "rev-parse", "HEAD"], check=True, capture_output=True, text=True
    ).stdout.strip()
    return release, marker


async def next_frame(ws: Any, frame_type: str, timeout: float = 10.0) -> dict[str, Any]:
    async with asyncio.timeout(timeout):
        while True:
            frame = json.loads(await ws.recv())
            if frame["type"] == frame_type:
                return frame
