"""Measure the silent stretches of a command: the longest time it printed nothing.

    python tools/silence.py [--tty] [--log FILE] -- veil demo

Without --tty the command's stdout and stderr are pipes (a script, CI), and every line
counts as output. With --tty they are a pseudo-terminal, and any byte counts (a progress bar
redrawing itself is output). Prints the command's exit code, its run time and the longest
silences with the line that ended each, and exits with the command's code.
"""

from __future__ import annotations

import argparse
import os
import pty
import select
import subprocess
import sys
import time


def run(argv: list[str], tty: bool) -> tuple[int, list[tuple[float, str]]]:
    """(exit code, [(seconds since start, output)]) of `argv`."""
    start = time.monotonic()
    events: list[tuple[float, str]] = []
    if tty:
        master, slave = pty.openpty()
        p = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, close_fds=True)
        os.close(slave)
        fds = [master]
    else:
        p = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        fds = [p.stdout.fileno(), p.stderr.fileno()]
    pending = {fd: b"" for fd in fds}
    while fds:
        ready, _, _ = select.select(fds, [], [])
        for fd in ready:
            try:
                data = os.read(fd, 65536)
            except OSError:  # EIO: the pty's other side is closed
                data = b""
            now = time.monotonic() - start
            if not data:
                fds.remove(fd)
                continue
            if tty:
                events.append((now, data.decode(errors="replace")))
                continue
            pending[fd] += data
            *lines, pending[fd] = pending[fd].split(b"\n")
            events += [(now, line.decode(errors="replace")) for line in lines]
    code = p.wait()
    events.append((time.monotonic() - start, "(exit)"))
    return code, events


def gaps(events: list[tuple[float, str]]) -> list[tuple[float, float, str]]:
    """(silence in s, when it ended, the output that ended it), longest first."""
    out, last = [], 0.0
    for t, text in events:
        out.append((t - last, t, text))
        last = t
    return sorted(out, reverse=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tty", action="store_true", help="run on a pseudo-terminal")
    ap.add_argument("--log", help="write every output event with its time to this file")
    ap.add_argument("command", nargs=argparse.REMAINDER)
    args = ap.parse_args()
    argv = args.command[1:] if args.command[:1] == ["--"] else args.command
    code, events = run(argv, args.tty)
    if args.log:
        with open(args.log, "w") as f:
            for t, text in events:
                f.write(f"{t:8.2f} {text!r}\n")
    print(f"{' '.join(argv)}: exit {code}, {events[-1][0]:.1f} s", file=sys.stderr)
    for gap, t, text in gaps(events)[:3]:
        clean = " ".join(text.replace("\r", " ").split())[:70]
        print(f"  silent {gap:5.1f} s, until {t:6.1f} s: {clean!r}", file=sys.stderr)
    sys.exit(code)


if __name__ == "__main__":
    main()
