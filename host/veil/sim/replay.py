"""`veil sim`: the real firmware on the virtual board, replaying recorded data.

The virtual board is driven through mpremote exactly like a board on USB: the firmware (as
`veil deploy` builds it) and a replay file are copied to it, it is provisioned, the tick loop
runs with its log streamed back, and the spooled feed is copied off it as `veil fetch` copies
it off a board. The board's folder holds its key: a temporary one is a private scratch folder
(veil.private), one given is made 0700. A board that stops answering (its interpreter killed,
hung) ends the run with one line saying so.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..boards import budget
from ..boards.deploy import Bundle, build
from ..boards.fetch import copy_feed
from ..boards.link import BoardError, BoardLink
from ..boards.netconfig import Transport, check_reachable
from ..boards.provision import REPLAY, SPOOL, board_config, put_device
from ..dataset import Series
from ..errors import VeilError
from ..firmware import firmware_dir, firmware_files
from ..owner.devices import define_device
from ..owner.home import Home
from ..private import private_dir, scratch
from ..progress import Progress, quiet
from ..protocol import DeviceSpec
from .vboard import VirtualBoard, virtual_heap

_TICKS = re.compile(r"veil: ticks (\d+)")
_ERROR = re.compile(r"veil: (?:error|crash): (.*)")
_KEPT = re.compile(r"veil: (\w+) stopping with (\d+) messages kept in the outbox")
_DOWN = re.compile(r"veil: \w+ link down: (.*)")


class SimError(VeilError):
    """The firmware stopped with an error on the virtual board."""


@dataclass
class SimResult:
    spec: DeviceSpec
    ticks: int
    log: list[str]
    weak: bool = False  # the decoy profile missed the privacy targets when it was checked

    def undelivered(self) -> str | None:
        """Why records were left on the board (a network sink that could not deliver them
        before the replay ended), from its log; None when everything went out."""
        kept = next((m for line in self.log if (m := _KEPT.match(line))), None)
        if not kept:
            return None
        downs = [m.group(1) for line in self.log if (m := _DOWN.match(line))]
        why = f" (last error: {downs[-1]})" if downs else ""
        return f"{kept.group(2)} records were not delivered over {kept.group(1)}{why}"


def simulate(
    series: Series,
    home: Home,
    device: str,
    *,
    feed_out: Path | None = None,
    k: int | None = None,
    epoch: int | None = None,
    tz: int | None = None,
    realtime: bool = False,
    speed: int = 1,
    board_dir: Path | None = None,
    profile: dict | None = None,
    replace: bool = False,
    weak_decoys: bool = False,
    progress: Progress = quiet,
    transport: Transport | None = None,
    on_line: Callable[[str], None] | None = None,
) -> SimResult:
    """Replay `series` on a virtual board as `device` of `home`, defined by the home's rules
    (veil.owner.devices.define_device: k and epoch are the home's, the decoy profile the one the
    device had or one fitted from the series itself); the feed goes to `feed_out`, or over the
    network `transport` (veil.boards.netconfig). Each step is reported to `progress`
    (veil.progress): over a network reaching the platform first, then start, firmware,
    provision, replay (ticks), and the copy of the feed or what is left to send. `on_line`
    gets each line of the board's log as it comes."""
    if transport is not None:
        progress(f"reach the platform at {transport.sink['host']}:{transport.sink['port']}")
        check_reachable(transport)
    definition = define_device(
        home,
        device,
        series.channels,
        k=k,
        epoch=epoch,
        tz=tz,
        profile=profile,
        series=series,
        replace=replace,
        weak_decoys=weak_decoys,
    )
    config = board_config(
        definition.spec,
        driver=REPLAY,
        sink=transport.sink if transport else SPOOL,
        pace="timestamps" if realtime else "fast",
        speed=speed,
        log_every=max(1, len(series.times) // 200),
    )
    budget.check(config, definition.profile)  # the virtual board stands for the smallest board
    log: list[str] = []
    ticks = 0

    def seen(line: str) -> None:
        nonlocal ticks
        log.append(line)
        if on_line:
            on_line(line)
        if m := _TICKS.match(line):
            ticks = int(m.group(1))
            progress("replay", ticks, len(series.times))
            if transport is not None and ticks >= len(series.times):
                progress(f"send what is left to the {transport.sink['type']} platform")
        elif m := _ERROR.match(line):
            raise SimError(f"firmware stopped: {m.group(1)}")

    with scratch("sim") as tmp:
        root = private_dir(board_dir or tmp / "board")
        progress("start the virtual board")
        with VirtualBoard(root) as vb:
            board = BoardLink(vb.port)
            progress("copy the firmware")
            board.put_files({r: f for r, f in _bundle().files.items() if r != "main.py"})
            progress("provision")
            put_device(board, home, definition, config=config, series=series, transport=transport)
            progress("replay", 0, len(series.times))
            try:
                board.stream(
                    "from veil import app\napp.main()", seen, idle=_quiet_limit(config, series)
                )
            except BoardError as e:
                if vb.deaths:
                    raise SimError(
                        f"the virtual board's MicroPython was killed (signal {vb.deaths[-1]}) "
                        f"while the firmware ran; the run is cut short after {ticks} ticks"
                    ) from None
                raise SimError(f"the firmware did not finish: {e}") from None
            if m := re.search(r"stopped after (\d+) ticks", log[-1] if log else ""):
                ticks = int(m.group(1))
            progress("replay", ticks, len(series.times))
            if transport is not None and ticks >= len(series.times):
                progress(f"send what is left to the {transport.sink['type']} platform")
            if transport is None:
                copy_feed(
                    board,
                    "feed.jsonl",
                    Path(feed_out),
                    progress=lambda done, total: progress(
                        "copy the feed off the board", done, total
                    ),
                )
    return SimResult(definition.spec, ticks, log, definition.weak)


QUIET_MARGIN = 90  # seconds: start-up, a slow host, a network sink's drain (30 s) at the end
TICK_ALLOWANCE = 0.2  # seconds a tick may take on a busy host, at full speed


def _quiet_limit(config: dict, series: Series) -> float:
    """How long the firmware may print nothing before the board counts as dead: it logs
    every `log_every` ticks, which in real time take the data's own time over `speed`."""
    every, times = config["log_every"], series.times
    span = every * TICK_ALLOWANCE
    if config["pace"] == "timestamps" and len(times) > every:
        span += max(b - a for a, b in zip(times, times[every:], strict=False)) / config["speed"]
    return QUIET_MARGIN + span


_BUNDLES: dict[str, tuple[tempfile.TemporaryDirectory, Bundle]] = {}


def _bundle() -> Bundle:
    """The firmware as `veil deploy` builds it (.mpy), built once per firmware in a process."""
    digest = hashlib.sha256()
    for remote, local in firmware_files().items():
        digest.update(remote.encode() + b"\0" + local.read_bytes())
    key = digest.hexdigest()
    if key not in _BUNDLES:
        folder = tempfile.TemporaryDirectory(prefix="veil-bundle-")
        _BUNDLES[key] = (folder, build(Path(folder.name)))
    return _BUNDLES[key][1]


def run_folder(root: Path, timeout: float = 3600) -> str:
    """Run the firmware's tick loop under the MicroPython Unix port directly in a board folder
    staged with veil.boards.provision.stage(), without pty or mpremote: the same firmware,
    interpreter and heap as the virtual board, for soak runs and benchmarks over long
    recordings. Returns the log."""
    exe = shutil.which(
        "micropython", path=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
    )
    if not exe:
        raise SimError("the MicroPython Unix port (`micropython`) is not installed")
    env = dict(os.environ, MICROPYPATH=f"{firmware_dir()}:.frozen")
    code = "from veil import app\napp.main()"
    try:
        p = subprocess.run(
            [exe, "-X", f"heapsize={virtual_heap()}", "-c", code],
            cwd=root,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        raise SimError(f"the firmware did not finish within {timeout:.0f} s") from None
    if p.returncode:  # the firmware's own crash line is in its log, the interpreter's on stderr
        said = (p.stderr.strip() or p.stdout.strip()).splitlines()
        raise SimError(f"firmware crashed (exit {p.returncode}): {said[-1] if said else '?'}")
    if m := _ERROR.search(p.stdout):
        raise SimError(f"firmware stopped: {m.group(1)}")
    return p.stdout
