"""A fresh Debian 12 host for the deploy guide's check, made on this machine.

The image is debootstrap's default Debian 12 (the required and important packages: a
minimal install, with no sudo, git, make or Python), built once into ``CACHE`` and kept
between runs (rebuilt when missing, unfinished or a month old: a fresh machine passes,
only slower). Each run mounts it under an overlay, so it starts from the same clean
system and leaves the image untouched, in mount and PID namespaces of its own: nothing it
mounts is seen outside, and everything started in it ends with it. It shares the host's
network: the package registries (apt and pip run for real), and the host's PostgreSQL and
Redis, which stand in for the ones the guide installs (packages do not start services in
a chroot: ``policy-rc.d``). This host's own certificate authorities go in too (an
egress proxy's, say), as a site's would. Downloaded ``.deb`` files and pip's cache are
kept beside the image, so a warm run downloads little.

No systemd runs as PID 1 in a chroot: ``tests/deploy/systemctl`` stands in for it.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

CACHE = Path(os.environ.get("RTSITE_DEPLOY_CACHE", "/var/cache/rtsite-deploy-check"))
SUITE = "bookworm"
MIRROR = "http://deb.debian.org/debian"
IMAGE_DAYS = 30
# What the installer writes: the release, its updates and security updates.
SOURCES = f"""deb {MIRROR} {SUITE} main
deb {MIRROR} {SUITE}-updates main
deb http://deb.debian.org/debian-security {SUITE}-security main
"""
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
SHIM = Path(__file__).with_name("systemctl")

# pid 1 of the machine's PID namespace: reaps what the services leave, ends with SIGTERM.
REAPER = """
import os, signal, sys, time
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
print("ready", flush=True)
while True:
    try:
        os.wait()
    except ChildProcessError:
        time.sleep(0.5)
"""


def tools_missing() -> list[str]:
    tools = ("debootstrap", "unshare", "nsenter", "chroot")
    return [tool for tool in tools if not shutil.which(tool)]


def image() -> Path:
    """The cached Debian 12 root file system, built here if it is not."""
    CACHE.mkdir(parents=True, exist_ok=True)
    root = CACHE / SUITE
    done = root / ".deploy-check-image"
    with open(CACHE / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # two runs at once build it once
        if done.exists() and time.time() - done.stat().st_mtime < IMAGE_DAYS * 86400:
            return root
        building = CACHE / f"{SUITE}.building"
        shutil.rmtree(building, ignore_errors=True)
        subprocess.run(
            ["debootstrap", SUITE, str(building), MIRROR],
            check=True,
            capture_output=True,
            timeout=1800,
        )
        (building / "etc" / "apt" / "sources.list").write_text(SOURCES)
        # As in Debian's container images: a package's start of its service is refused
        # (101); the host's servers stand in for PostgreSQL and Redis, and the guide's
        # systemctl starts what it starts.
        policy = building / "usr" / "sbin" / "policy-rc.d"
        policy.write_text("#!/bin/sh\nexit 101\n")
        policy.chmod(0o755)
        done_in_build = building / ".deploy-check-image"
        done_in_build.touch()
        shutil.rmtree(root, ignore_errors=True)
        building.rename(root)
        return root


class Machine:
    """One run's Debian 12: ``run`` types a shell script into it as root."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.root = directory / "root"
        for name in ("upper", "work", "root"):
            (directory / name).mkdir(parents=True)
        for name in ("apt", "pip"):
            (CACHE / name).mkdir(parents=True, exist_ok=True)
        (CACHE / "pip").chmod(0o1777)
        base = image()
        root = self.root
        layers = f"lowerdir={base},upperdir={directory}/upper,workdir={directory}/work"
        setup = f"""
mount -t overlay overlay -o {layers} {root}
mount -t proc proc {root}/proc
mount -t sysfs -o ro sysfs {root}/sys
mount --rbind /dev {root}/dev
mount --make-rslave {root}/dev
mount -t tmpfs -o mode=755 tmpfs {root}/run
mount --bind {CACHE}/apt {root}/var/cache/apt/archives
mkdir -p {root}/var/cache/pip
mount --bind {CACHE}/pip {root}/var/cache/pip
cp /etc/resolv.conf {root}/etc/resolv.conf
cp /etc/hostname {root}/etc/hostname
printf '127.0.0.1\\tlocalhost %s\\n' "$(hostname)" > {root}/etc/hosts
# This host's own certificate authorities (a proxy's, say), and pip's settings for them.
mkdir -p {root}/usr/local/share/ca-certificates
cp -r /usr/local/share/ca-certificates/. {root}/usr/local/share/ca-certificates/
printf '[global]\\ncache-dir = /var/cache/pip\\ncert = /etc/ssl/certs/ca-certificates.crt\\n' \\
    > {root}/etc/pip.conf
install -m 755 {SHIM} {root}/usr/local/sbin/systemctl
exec {sys.executable} -c '{REAPER}'
"""
        self.holder = subprocess.Popen(
            [
                *("unshare", "--mount", "--pid", "--fork", "--propagation", "private"),
                *("bash", "-euc", setup),
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.holder.stdout is not None
        line = self.holder.stdout.readline()
        assert line.strip() == "ready", "the machine did not start"
        children = Path(f"/proc/{self.holder.pid}/task/{self.holder.pid}/children")
        self.pid = int(children.read_text().split()[0])

    def command(self, *argv: str) -> list[str]:
        return ["nsenter", "-t", str(self.pid), "-m", "-p", "--", "chroot", str(self.root), *argv]

    def run(
        self, script: str, *, env: dict[str, str] | None = None, timeout: float = 900
    ) -> subprocess.CompletedProcess[str]:
        """``script`` as root types it at a login shell: in /root, each command shown
        (-x), the first that fails stops it (-e, pipefail)."""
        login = {
            "HOME": "/root",
            "USER": "root",
            "LOGNAME": "root",
            "SHELL": "/bin/bash",
            "PATH": PATH,
            "LANG": "C.UTF-8",
            "TERM": "dumb",
            # No one answers a package's questions here.
            "DEBIAN_FRONTEND": "noninteractive",
            **(env or {}),
        }
        argv = [f"{name}={value}" for name, value in login.items()]
        return subprocess.run(
            self.command(
                "/usr/bin/env", "-i", *argv, "/bin/bash", "-euxo", "pipefail", "-c", f"cd\n{script}"
            ),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def stop(self) -> None:
        """Every unit stopped as systemd would at shutdown (the workers drain), then
        everything left in the machine ends with its PID namespace."""
        if self.holder.poll() is not None:
            return
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.run(
                "for unit in $(ls /run/deploy-check 2>/dev/null | sed -n 's/\\.pid$//p'); do"
                " systemctl stop $unit || true; done",
                timeout=120,
            )
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGKILL)
        self.holder.wait(timeout=60)

    def path(self, inside: str) -> Path:
        """A path in the machine, as seen from the host (its mounts are its own)."""
        return Path(f"/proc/{self.pid}/root") / str(self.root).lstrip("/") / inside.lstrip("/")


@contextlib.contextmanager
def machine(directory: Path) -> Iterator[Machine]:
    host = Machine(directory)
    try:
        yield host
    finally:
        host.stop()
        # The overlay's upper layer: what the run installed (hundreds of MB).
        shutil.rmtree(directory / "upper", ignore_errors=True)
        shutil.rmtree(directory / "work", ignore_errors=True)
