"""Local servers on loopback for tests and benchmarks: Mosquitto, the ACME oneM2M CSE and
PostgreSQL, each started in its own folder on a free port and stopped (process group killed)
on exit. Nothing is assumed to be running already.

Not part of the shipped package: the tests import it from this folder, the benchmarks in
bench/ put this folder on their path first. What a platform ships is only the set-up each
server is started from (veil.platform.broker, veil.platform.cse).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from veil.errors import VeilError
from veil.platform.broker import BrokerFiles, write_broker
from veil.platform.cse import write_cse


class ServiceError(VeilError):
    """A local server could not be started."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(check, proc: subprocess.Popen, what: str, log: Path, timeout: float = 30) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise ServiceError(f"{what} exited ({proc.returncode}): {_tail(log)}")
        with contextlib.suppress(OSError):
            if check():
                return
        time.sleep(0.05)
    raise ServiceError(f"{what} did not start within {timeout:.0f} s: {_tail(log)}")


def _tail(log: Path) -> str:
    with contextlib.suppress(OSError):
        return " | ".join(log.read_text(errors="replace").strip().splitlines()[-3:])
    return ""


def _port_open(port: int) -> bool:
    with socket.create_connection(("127.0.0.1", port), timeout=0.5):
        return True


class Service:
    """One server process in its own process group; `stop()` ends it, `kill()` crashes it."""

    proc: subprocess.Popen | None = None

    def _spawn(self, cmd: list[str], log: Path, **kw) -> subprocess.Popen:
        self.log = log
        self.proc = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=log.open("ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
            **kw,
        )
        return self.proc

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, sig)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.proc = None

    def kill(self) -> None:
        self.stop(signal.SIGKILL)

    def __enter__(self):
        try:
            self.start()
        except BaseException:
            self.stop()  # a server that started but never answered is not left running
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


class Mosquitto(Service):
    """Mosquitto with TLS and password login (`veil broker`), plus a plain password listener."""

    def __init__(self, folder: Path, *, devices=(), readers=("ingest", "owner")):
        if not shutil.which("mosquitto"):
            raise ServiceError("mosquitto not found: apt-get install mosquitto")
        self.folder = Path(folder)
        self.files: BrokerFiles = write_broker(
            self.folder,
            devices=list(devices),
            readers=list(readers),
            tls_port=free_port(),
            plain_port=free_port(),
        )

    def add_devices(self, *names: str) -> None:
        """Give devices credentials; takes effect at the next start."""
        f = self.files
        write_broker(
            f.dir, devices=list(names), tls_port=f.tls_port, plain_port=f.plain_port, host=f.host
        )

    @property
    def tls_port(self) -> int:
        return self.files.tls_port

    @property
    def plain_port(self) -> int:
        return self.files.plain_port

    def start(self) -> None:
        proc = self._spawn(["mosquitto", "-c", str(self.files.config)], self.folder / "log")
        _wait(
            lambda: _port_open(self.tls_port) and _port_open(self.plain_port),
            proc,
            "mosquitto",
            self.log,
        )


class AcmeCse(Service):
    """The ACME oneM2M CSE, headless, on a free port; `url` is its CSEBase. In memory by
    default; with `db` (a postgresql:// URL) its resources survive a restart, which keeps the
    port (boards know the URL). A port taken between choosing and binding makes ACME exit 0
    without a word: a first start then tries another port."""

    def __init__(self, folder: Path, *, db: str = ""):
        self.folder = Path(folder)
        self.db = db
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/cse-veil"

    def start(self) -> None:
        exe = shutil.which("acmecse", path=f"{Path(sys.executable).parent}:{os.environ['PATH']}")
        if not exe:
            raise ServiceError("acmecse not found: pip install acmecse")
        first = not self.port
        for attempt in range(3):
            if not self.port:
                self.port = free_port()
            write_cse(self.folder, port=self.port, db=self.db)
            cmd = [exe, "--base-directory", str(self.folder), "--headless"]
            proc = self._spawn(cmd, self.folder / "log", cwd=self.folder)
            try:
                _wait(self._ready, proc, "ACME CSE", self.log, timeout=60)
                return
            except ServiceError:
                quiet_exit = proc.poll() == 0
                self.stop()
                if not (first and quiet_exit) or attempt == 2:
                    raise
                self.port = 0

    def _ready(self) -> bool:
        req = urllib.request.Request(
            self.url, headers={"X-M2M-Origin": "CAdmin", "X-M2M-RI": "up", "X-M2M-RVI": "3"}
        )
        with urllib.request.urlopen(req, timeout=1) as r:
            return r.status == 200


class Postgres(Service):
    """A throw-away PostgreSQL cluster (Debian's binaries) on a free port; `url` names its db.
    Its folder is its own temporary one: as root the server runs as user `postgres`, which
    must be able to reach it."""

    def __init__(self):
        self.folder = Path(tempfile.mkdtemp(prefix="veil-pg-"))
        self.folder.chmod(0o755)
        self.bin = _pg_bin()
        self.port = free_port()
        self.url = f"postgresql://veil@127.0.0.1:{self.port}/veil"

    def _run(self, *cmd: str) -> None:
        done = subprocess.run(cmd, capture_output=True, text=True, **self._as_user())
        if done.returncode:
            raise ServiceError(f"{Path(cmd[0]).name} failed: {done.stderr.strip()[-300:]}")

    def _as_user(self) -> dict:
        """PostgreSQL refuses to run as root: run it as `postgres` when we are root."""
        if os.geteuid() != 0:
            return {}
        import pwd

        pw = pwd.getpwnam("postgres")
        return {"user": pw.pw_uid, "group": pw.pw_gid}

    def start(self) -> None:
        data = self.folder / "data"
        if os.geteuid() == 0:
            shutil.chown(self.folder, "postgres", "postgres")
        if not data.exists():
            self._run(str(self.bin / "initdb"), "-D", str(data), "-U", "veil", "-A", "trust")
        cmd = [str(self.bin / "postgres"), "-D", str(data), "-p", str(self.port)]
        cmd += ["-c", "listen_addresses=127.0.0.1", "-c", f"unix_socket_directories={self.folder}"]
        cmd += ["-c", "fsync=on", "-c", "synchronous_commit=on"]
        log = self.folder / "log"
        log.touch()
        if os.geteuid() == 0:
            shutil.chown(log, "postgres", "postgres")
        proc = self._spawn(cmd, log, **self._as_user())

        def ready() -> bool:
            import psycopg

            admin = self.url.rsplit("/", 1)[0] + "/postgres"
            try:
                with psycopg.connect(admin, connect_timeout=1, autocommit=True) as c:
                    if not c.execute("SELECT 1 FROM pg_database WHERE datname='veil'").fetchone():
                        c.execute("CREATE DATABASE veil")
            except psycopg.OperationalError:  # not accepting connections yet
                return False
            return True

        _wait(ready, proc, "PostgreSQL", log)

    def stop(self, sig: int = signal.SIGTERM) -> None:
        super().stop(sig)
        if sig == signal.SIGTERM:
            shutil.rmtree(self.folder, ignore_errors=True)


def _pg_bin() -> Path:
    for cand in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (cand / "postgres").exists():
            return cand
    raise ServiceError("PostgreSQL server not found: apt-get install postgresql")
