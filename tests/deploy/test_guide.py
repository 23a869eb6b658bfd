"""docs/deploy.md, followed from a fresh clone: its ``guide:`` blocks, run as written
but for what needs root on a real host (a system user, apt, paths under /etc and /srv),
which move into a temporary directory. Debian's nginx in front on a non-default port
over TLS, `make serve`'s command with two workers, PostgreSQL and Redis.

Slow (a fresh virtual environment), so not part of `make test`: `make deploy-check`,
which CI runs once.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import signal
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from http.cookiejar import CookieJar
from pathlib import Path
from typing import Any

import psycopg
import pytest
import redis
import websockets

from tests.conftest import ROOT, free_port, require

pytestmark = pytest.mark.deploy

GUIDE = ROOT / "docs" / "deploy.md"
PASSWORD = "deploy-check-password-1"
PG = "postgres://postgres@127.0.0.1:5432/postgres"


def block(name: str) -> str:
    """The code block after ``<!-- guide:name -->`` in the guide."""
    found = re.search(rf"<!-- guide:{name} -->\n```[a-z]*\n(.*?)```", GUIDE.read_text(), re.S)
    assert found, f"docs/deploy.md has no guide:{name} block"
    return found.group(1)


def replaced(text: str, *pairs: tuple[str, str]) -> str:
    """``text`` with each replacement made; each must apply (the guide changed if not)."""
    for old, new in pairs:
        assert old in text, f"the guide no longer says {old!r}"
        text = text.replace(old, new)
    return text


def run_sh(script: str, cwd: Path, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert done.returncode == 0, f"{script}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


@dataclass
class Site:
    home: Path  # the clone (/srv/rtsite)
    var: Path  # RTSITE_VAR_DIR (/var/lib/rtsite)
    env_file: Path  # /etc/rtsite/env
    port: int  # nginx, https
    serve_port: int  # make serve's socket
    database: str

    @property
    def url(self) -> str:
        return f"https://localhost:{self.port}"


def tls_context() -> ssl.SSLContext:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def make_certificate(directory: Path) -> tuple[Path, Path]:
    cert, key = directory / "site.pem", directory / "site.key"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
            *("-subj", "/CN=localhost", "-keyout", str(key), "-out", str(cert)),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


def nginx_config(site: Site, directory: Path, cert: Path, key: Path) -> Path:
    server = replaced(
        block("nginx"),
        ("listen 443 ssl http2;", f"listen {site.port} ssl http2;"),
        ("server_name chat.example.com;", "server_name localhost;"),
        ("/etc/ssl/chat.example.com.pem", str(cert)),
        ("/etc/ssl/chat.example.com.key", str(key)),
        ("/var/lib/rtsite/static/", f"{site.var}/static/"),
        ("server 127.0.0.1:8000;", f"server 127.0.0.1:{site.serve_port};"),
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


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    require(shutil.which("nginx") is not None, "Debian's nginx (apt-get install nginx-light)")
    require(shutil.which("openssl") is not None, "openssl")
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

    database = f"rtsite_deploy_{uuid.uuid4().hex[:8]}"
    site = Site(
        home=tmp_path / "srv" / "rtsite",
        var=tmp_path / "var" / "lib" / "rtsite",
        env_file=tmp_path / "etc" / "rtsite" / "env",
        port=free_port(),
        serve_port=free_port(),
        database=database,
    )
    site.home.parent.mkdir(parents=True)
    site.var.mkdir(parents=True)
    site.env_file.parent.mkdir(parents=True)

    # 1. Install: the clone and its virtual environment.
    install = "\n".join(
        line
        for line in block("install").splitlines()
        if not line.startswith(("sudo useradd", "sudo apt-get"))
    )
    install = replaced(
        install,
        ("https://example.com/rtsite.git", str(ROOT)),
        ("/srv/rtsite", str(site.home)),
        ("sudo -u rtsite ", ""),
    ).replace("python3 -m venv", f"{sys.executable} -m venv")
    run_sh(install, tmp_path)
    # 2. The database and its role.
    run_sh(
        replaced(
            block("database"),
            ("sudo -u postgres psql", "psql -h 127.0.0.1 -U postgres -d postgres"),
            ("ROLE rtsite ", f"ROLE {database} "),
            ("DATABASE rtsite OWNER rtsite", f"DATABASE {database} OWNER {database}"),
        ),
        tmp_path,
    )
    # 3. The environment file (with the test's own Redis key prefixes: the machine's
    # Redis is shared with other runs).
    prefix = f"rtsite-deploy-{uuid.uuid4().hex[:8]}"
    env_text = replaced(
        block("env"),
        ("SECRET_KEY=replace-with-50-random-characters", f"SECRET_KEY={uuid.uuid4().hex * 2}"),
        ("CSRF_TRUSTED_ORIGINS=https://chat.example.com", f"CSRF_TRUSTED_ORIGINS={site.url}"),
        ("ALLOWED_HOSTS=chat.example.com,", "ALLOWED_HOSTS=localhost,"),
        (
            "rtsite:a-long-random-password@127.0.0.1:5432/rtsite",
            f"{database}:a-long-random-password@127.0.0.1:5432/{database}",
        ),
        ("RTSITE_VAR_DIR=/var/lib/rtsite", f"RTSITE_VAR_DIR={site.var}"),
    )
    site.env_file.write_text(
        env_text + f"REDIS_KEY_PREFIX={prefix}\nCHANNEL_LAYER_PREFIX={prefix}\n"
    )
    site.env_file.chmod(0o600)
    # 4. Prepare.
    prepare = replaced(
        block("prepare"),
        ("cd /srv/rtsite", f"cd {site.home}"),
        ("/etc/rtsite/env", str(site.env_file)),
        ("--email admin@example.com", "--email admin@example.com --no-input"),
    )
    run_sh(prepare, tmp_path, {"DJANGO_SUPERUSER_PASSWORD": PASSWORD})
    # 5. The unit: verified where systemd can, then its ExecStart run as systemd would.
    unit = replaced(
        block("unit"),
        ("/srv/rtsite", str(site.home)),
        ("/etc/rtsite/env", str(site.env_file)),
        ("--workers 4", "--workers 2"),
        ("--port 8000", f"--port {site.serve_port}"),
    )
    unit_file = tmp_path / "rtsite.service"
    unit_file.write_text(unit.replace("User=rtsite\nGroup=rtsite\n", ""))
    if shutil.which("systemd-analyze"):
        verified = subprocess.run(
            ["systemd-analyze", "verify", str(unit_file)], capture_output=True, text=True
        )
        assert verified.returncode == 0, verified.stdout + verified.stderr
    command = re.search(r"^ExecStart=(.*)$", unit, re.M)
    assert command
    environment = environment_of(site)
    with open(tmp_path / "serve.log", "wb") as out:
        workers = subprocess.Popen(
            command.group(1).split(),
            cwd=site.home,
            env={"PATH": os.environ["PATH"], **environment},
            stdout=out,
            stderr=out,
        )
    # 6. nginx.
    cert, key = make_certificate(tmp_path)
    config = nginx_config(site, tmp_path, cert, key)
    nginx = subprocess.Popen(["nginx", "-c", str(config), "-g", "daemon off;"])
    try:
        wait_ready(f"{site.url}/healthz/ready")
        yield site
    finally:
        nginx.send_signal(signal.SIGQUIT)
        workers.send_signal(signal.SIGTERM)
        for process in (nginx, workers):
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        with psycopg.connect(PG, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
            connection.execute(f'DROP ROLE IF EXISTS "{database}"')
        client = redis.Redis()
        for key_name in client.scan_iter(match=f"{prefix}*", count=1000):
            client.delete(key_name)


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


def opener(jar: CookieJar) -> urllib.request.OpenerDirector:
    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: Any, **kwargs: Any) -> None:
            return None

    return urllib.request.build_opener(
        urllib.request.HTTPSHandler(context=tls_context()),
        urllib.request.HTTPCookieProcessor(jar),
        NoRedirect(),
    )


def fetch(site: Site, path: str, **kwargs: Any) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(f"{site.url}{path}", **kwargs)  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=10, context=tls_context()) as reply:  # noqa: S310
            return reply.status, dict(reply.headers), reply.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def log_in(site: Site) -> str:
    """Log in as the superuser through nginx; the session cookie header."""
    jar = CookieJar()
    browser = opener(jar)
    with browser.open(f"{site.url}/accounts/login/", timeout=10) as page:
        token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page.read())
    assert token
    form = urllib.parse.urlencode(
        {"username": "admin", "password": PASSWORD, "csrfmiddlewaretoken": token.group(1).decode()}
    ).encode()
    request = urllib.request.Request(  # noqa: S310
        f"{site.url}/accounts/login/",
        data=form,
        headers={"Origin": site.url, "Referer": f"{site.url}/accounts/login/"},
    )
    try:
        browser.open(request, timeout=10)
        status = 200
    except urllib.error.HTTPError as redirect:
        status = redirect.code
    assert status == 302, "the login through nginx was refused (CSRF?)"
    cookies = {cookie.name: cookie for cookie in jar}
    assert cookies["sessionid"].secure
    return f"sessionid={cookies['sessionid'].value}"


def manage(site: Site, *args: str) -> subprocess.CompletedProcess[str]:
    """A command as an operator runs it: in the clone, with the environment file."""
    return subprocess.run(
        [str(site.home / ".venv" / "bin" / "python"), "manage.py", *args],
        cwd=site.home,
        env={"PATH": os.environ["PATH"], **environment_of(site)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def environment_of(site: Site) -> dict[str, str]:
    return dict(
        line.split("=", 1)
        for line in site.env_file.read_text().splitlines()
        if line and not line.startswith("#")
    )


def test_the_deploy_guide_works_as_written(site: Site) -> None:
    # Static files from nginx, where collectstatic put them.
    status, headers, body = fetch(site, "/static/rtsite/live.js")
    assert status == 200
    assert body == (site.var / "static" / "rtsite" / "live.js").read_bytes()
    assert headers.get("Server", "").startswith("nginx")
    # Health through nginx; HSTS on https answers.
    status, headers, body = fetch(site, "/healthz/ready")
    assert status == 200, body
    assert json.loads(body)["draining"] == "no"
    assert fetch(site, "/healthz/live")[0] == 200
    status, headers, _ = fetch(site, "/accounts/login/")
    assert "max-age=3600" in headers.get("Strict-Transport-Security", "")
    # /metrics: refused through nginx; on the host with the token, the workers' sums.
    assert fetch(site, "/metrics")[0] == 403
    scrape = urllib.request.Request(
        f"http://127.0.0.1:{site.serve_port}/metrics",
        headers={"Authorization": f"Bearer {environment_of(site)['METRICS_TOKEN']}"},
    )
    with urllib.request.urlopen(scrape, timeout=10) as reply:  # noqa: S310
        assert b"rtsite_redis_latency_seconds_count" in reply.read()
    # An operator makes a room; a visitor logs in on a non-default port (CSRF compares
    # the Origin with Host: $http_host).
    assert manage(site, "create_room", "general").returncode == 0
    cookie = log_in(site)
    reload_command = re.search(r"^ExecReload=(.*)$", block("unit"), re.M)
    assert reload_command
    reload_args = reload_command.group(1).split()[2:]  # after "python manage.py"
    asyncio.run(sockets_through_nginx(site, cookie, reload_args))
    wait_ready(f"{site.url}/healthz/ready")


async def sockets_through_nginx(site: Site, cookie: str, reload_args: list[str]) -> None:
    """Sockets over wss:// as the logged-in user; a message crosses; then the unit's
    reload (a rolling restart): each socket is told, and closed with 1012."""
    ws_url = site.url.replace("https://", "wss://")
    connect: dict[str, Any] = {
        "origin": site.url,
        "additional_headers": {"Cookie": cookie},
        "ssl": tls_context(),
        "open_timeout": 10,
    }
    async with (
        websockets.connect(f"{ws_url}/ws/chat/general/", **connect) as one,
        websockets.connect(f"{ws_url}/ws/chat/general/", **connect) as two,
    ):
        for ws in (one, two):
            sync = await next_frame(ws, "sync")
            assert sync["me"]["username"] == "admin"
        await one.send(json.dumps({"type": "message.send", "body": "deployed", "ref": "d1"}))
        assert (await next_frame(two, "message"))["message"]["body"] == "deployed"
        restart = await asyncio.to_thread(manage, site, *reload_args)
        assert restart.returncode == 0, restart.stderr
        closing = await next_frame(one, "closing", timeout=60)
        assert closing["reason"] == "restart"
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await next_frame(one, "never", timeout=60)
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == 1012


async def next_frame(ws: Any, frame_type: str, timeout: float = 10.0) -> dict[str, Any]:
    async with asyncio.timeout(timeout):
        while True:
            frame = json.loads(await ws.recv())
            if frame["type"] == frame_type:
                return frame
