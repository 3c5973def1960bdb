"""Talking to a board (real on a serial port, or the virtual board's pty) through mpremote.

Everything goes through the real `mpremote` CLI, so the virtual board is driven exactly like
an ESP32 on USB. `resume` is always given: veil never soft-resets a board behind the user's
back. Files are written to a temporary name and renamed on the board, so an interrupted copy
never leaves a half-written config or key.
"""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from ..errors import VeilError

DEFAULT_TIMEOUT = 60


class BoardError(VeilError):
    """mpremote could not reach the board, or the board reported an error."""


def _mpremote() -> list[str]:
    exe = shutil.which("mpremote")
    return [exe] if exe else [sys.executable, "-m", "mpremote"]


def _reason(stderr: str, stdout: str) -> str:
    if "could not enter raw repl" in stderr:
        return (
            "no MicroPython REPL answered (flash MicroPython with `veil flash`; close any "
            "other program using the port)"
        )
    lines = [ln.strip() for ln in (stderr + "\n" + stdout).splitlines() if ln.strip()]
    return lines[-1] if lines else "no output"


class BoardLink:
    def __init__(self, port: str, *, timeout: float = DEFAULT_TIMEOUT):
        self.port = port
        self.timeout = timeout

    def _cmd(self, *args: str) -> list[str]:
        return [*_mpremote(), "connect", self.port, "resume", *args]

    def mpremote(self, *args: str, timeout: float | None = None) -> str:
        """Run one mpremote command chain (`a + b + ...`) and return its output."""
        timeout = timeout or self.timeout
        try:
            p = subprocess.run(
                self._cmd(*args),
                capture_output=True,
                text=True,
                timeout=timeout,
                stdin=subprocess.DEVNULL,
            )
        except subprocess.TimeoutExpired:
            raise BoardError(f"board on {self.port} did not answer within {timeout:g} s") from None
        if p.returncode:
            raise BoardError(f"board on {self.port}: {_reason(p.stderr, p.stdout)}")
        return p.stdout

    def exec(self, code: str, timeout: float | None = None) -> str:
        return self.mpremote("exec", code, timeout=timeout)

    def eval(self, expr: str):
        """Evaluate a Python literal expression on the board and return its value."""
        out = self.exec(f"print(repr({expr}))").strip()
        try:
            return ast.literal_eval(out.splitlines()[-1])
        except (ValueError, SyntaxError, IndexError):
            raise BoardError(f"board on {self.port} answered {out[:80]!r}") from None

    def put_files(self, files: dict[str, Path]) -> None:
        """Copy local files to board paths, atomically per file (tmp name, then rename)."""
        if not files:
            return
        dirs = sorted({str(Path(r).parent) for r in files if str(Path(r).parent) != "."})
        chain: list[str] = []
        if dirs:
            chain += ["exec", _mkdirs(dirs), "+"]
        for remote, local in files.items():
            chain += ["cp", str(local), f":{remote}.tmp", "+"]
        renames = "; ".join(f"os.rename({r + '.tmp'!r}, {r!r})" for r in files)
        chain += ["exec", f"import os; {renames}"]
        self.mpremote(*chain)

    def get_file(self, remote: str, local: Path) -> None:
        self.mpremote("cp", f":{remote}", str(local))

    def stream(
        self,
        code: str,
        on_line: Callable[[str], None],
        *,
        mount: Path | None = None,
        timeout: float | Callable[[], float] | None = None,
        doing: str = "running",
    ) -> None:
        """Run code on the board, handing each output line to `on_line` as it comes. With
        `mount`, that local folder is the board's /remote while the code runs (mpremote
        mount). With `timeout` (seconds from the start, or a function giving them, asked
        again as the output comes: a copy learns its size as it starts), a run that lasts
        longer is stopped and reported as `doing`."""
        chain = ["mount", str(mount)] if mount else []
        p = subprocess.Popen(
            self._cmd(*chain, "exec", code),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
        )
        assert p.stdout is not None and p.stderr is not None
        limit = timeout if callable(timeout) else (lambda: timeout)
        start = time.monotonic()
        finished = threading.Event()
        expired: list[float] = []

        def watch() -> None:
            while not finished.wait(0.05):
                allowed = limit()
                if allowed is not None and time.monotonic() - start > allowed:
                    expired.append(allowed)
                    p.kill()
                    return

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        last = ""
        try:
            for line in p.stdout:
                last = line.strip() or last
                on_line(line.rstrip("\r\n"))
            err = p.stderr.read()
            code_ = p.wait()
        except BaseException:
            p.kill()
            p.wait()
            raise
        finally:
            finished.set()
            watcher.join()
        if expired:
            raise BoardError(
                f"board on {self.port} did not finish {doing} within {expired[0]:.3g} s"
            )
        if code_:
            raise BoardError(f"board on {self.port}: {_reason(err, last)}")


def _mkdirs(dirs: list[str]) -> str:
    parts = []
    for d in dirs:
        acc = ""
        for piece in d.split("/"):
            acc = f"{acc}/{piece}" if acc else piece
            parts.append(acc)
    wanted = list(dict.fromkeys(parts))
    return (
        "import os\n"
        f"for d in {wanted!r}:\n"
        "    try:\n        os.mkdir(d)\n    except OSError:\n        pass"
    )
