"""Talking to a board (real on a serial port, or the virtual board's pty) through mpremote.

Everything goes through the real `mpremote` CLI, so the virtual board is driven exactly like
an ESP32 on USB. `resume` is always given: veil never soft-resets a board behind the user's
back. Files are written to a temporary name and renamed on the board, so an interrupted copy
never leaves a half-written config or key.

Every operation has a deadline, so that a board that died (unplugged, crashed, its
interpreter killed) ends the operation with one line saying what happened instead of leaving
mpremote waiting for ever: a command must finish within its `timeout`; code that streams
output (the tick loop) must print something every `idle` seconds, and ends at once when the
board shows it reset (mpremote would wait for the end of output that a reset board never
sends).
"""

from __future__ import annotations

import ast
import os
import re
import select
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from ..errors import VeilError

DEFAULT_TIMEOUT = 60
# What a board prints when it starts over: MicroPython's banner, a soft reboot, the ESP32 ROM.
RESET_SIGNS = re.compile(r"MicroPython \S+ on \d{4}-\d\d-\d\d; |MPY: soft reboot|^rst:0x")


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
        """Run one mpremote command chain (`a + b + ...`) and return its output; BoardError
        when it fails or takes longer than `timeout` seconds (default: the link's)."""
        timeout = timeout or self.timeout
        try:
            p = subprocess.run(
                self._cmd(*args),
                capture_output=True,
                text=True,
                timeout=timeout,
                stdin=subprocess.DEVNULL,
            )
        except subprocess.TimeoutExpired:  # run() has killed mpremote
            raise BoardError(
                f"board on {self.port} did not finish {args[0]} within {timeout:.0f} s"
            ) from None
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

    def put_files(self, files: dict[str, Path], timeout: float | None = None) -> None:
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
        self.mpremote(*chain, timeout=timeout)

    def get_file(self, remote: str, local: Path, timeout: float | None = None) -> None:
        self.mpremote("cp", f":{remote}", str(local), timeout=timeout)

    def stream(
        self,
        code: str,
        on_line: Callable[[str], None],
        *,
        idle: float | None = None,
        mount: Path | None = None,
        timeout: float | Callable[[], float | None] | None = None,
        doing: str = "running",
    ) -> None:
        """Run code on the board, handing each output line to `on_line` as it comes. With
        `mount`, that local folder is the board's /remote while the code runs (mpremote
        mount). Ends with BoardError when the board prints nothing for `idle` seconds
        (default: the link's timeout), shows that it reset, or runs longer than `timeout`
        (seconds from the start, or a function giving them, asked again as the output comes:
        a copy learns its size as it starts; reported as `doing`)."""
        idle = idle or self.timeout
        limit = timeout if callable(timeout) else (lambda: timeout)
        chain = ["mount", str(mount)] if mount else []
        p = subprocess.Popen(
            self._cmd(*chain, "exec", code),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
        )
        assert p.stdout is not None and p.stderr is not None
        out, err = _Lines(p.stdout.fileno()), _Lines(p.stderr.fileno())
        start = time.monotonic()
        last = ""
        try:
            while not (out.done and err.done):
                allowed = limit()
                left = None if allowed is None else allowed - (time.monotonic() - start)
                if left is not None and left <= 0:
                    raise BoardError(
                        f"board on {self.port} did not finish {doing} within {allowed:.3g} s"
                    )
                wait = idle if left is None else min(idle, left)
                ready = select.select([r.fd for r in (out, err) if not r.done], [], [], wait)[0]
                if not ready:
                    if left is not None and wait == left:
                        continue  # the time limit, said at the top of the loop
                    raise BoardError(f"board on {self.port} printed nothing for {idle:.0f} s")
                for line in out.read() if out.fd in ready else ():
                    if RESET_SIGNS.search(line):
                        raise BoardError(
                            f"board on {self.port} reset while running the code "
                            f"(it printed {line.strip()[:60]!r})"
                        )
                    last = line.strip() or last
                    on_line(line)
                if err.fd in ready:
                    err.read()
            code_ = p.wait(timeout=idle)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
            raise BoardError(f"mpremote did not end after the board on {self.port} did") from None
        except BaseException:
            p.kill()
            p.wait()
            raise
        finally:
            p.stdout.close()
            p.stderr.close()
        if code_:
            raise BoardError(f"board on {self.port}: {_reason(err.text(), last)}")


class _Lines:
    """The lines of a pipe read as they come, without blocking: select() says when."""

    def __init__(self, fd: int):
        self.fd = fd
        self.done = False
        self._buf = b""
        self._kept: list[str] = []

    def read(self) -> list[str]:
        """The lines completed by what the pipe holds now (all that is left at its end)."""
        data = os.read(self.fd, 65536)
        if data:
            head, sep, self._buf = (self._buf + data).rpartition(b"\n")
            complete = head + sep
        else:
            self.done = True
            complete, self._buf = self._buf, b""
        lines = [ln.decode(errors="replace").rstrip("\r") for ln in complete.splitlines()]
        self._kept = (self._kept + lines)[-20:]
        return lines

    def text(self) -> str:
        return "\n".join(self._kept)


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
