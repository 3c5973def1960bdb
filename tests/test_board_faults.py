"""The virtual board's secrets and its death. Every file that holds the home key or a broker
password is 0600 in a 0700 folder wherever veil writes it (the board's own flash included); a
`veil sim` killed with SIGKILL leaves its board's key only in a private scratch folder that
the next run removes, and no interpreter behind it; a board whose interpreter is killed ends
`veil sim` with one line instead of leaving mpremote waiting for ever."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from veil import dataset
from veil.boards.link import BoardError, BoardLink
from veil.boards.netconfig import sink_settings
from veil.private import scratch
from veil.sim.replay import simulate
from veil.sim.vboard import VirtualBoard

from conftest import ROOM, ROOM_CHANNELS, interpreters, wait_for
from services import Mosquitto


def secret_files(root: Path, secrets: list[bytes]) -> list[Path]:
    """Every file under `root` that holds one of the secrets."""
    found = []
    for path in root.rglob("*"):
        if path.is_file() and not path.is_symlink():
            data = path.read_bytes()
            if any(s in data for s in secrets):
                found.append(path)
    return found


def assert_private(path: Path, top: Path) -> None:
    """`path` is 0600 and every folder from it up to `top` (not included) is 0700."""
    assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    for folder in path.parents:
        if folder == top:
            break
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, f"{folder} is open to others"


def test_every_secret_file_a_sim_writes_is_private(home, tmp_path):
    """`veil sim --board-dir DIR --mqtt …` through the library: the home, the broker folder
    and the board's flash (written by MicroPython itself) hold only private secret files."""
    series = dataset.load(ROOM, channels=ROOM_CHANNELS, limit=5)
    with Mosquitto(tmp_path / "broker", devices=["room1"]) as broker:
        url = f"mqtts://127.0.0.1:{broker.tls_port}"
        net = sink_settings("room1", mqtt_url=url, broker_dir=broker.folder)
        (tmp_path / "board").mkdir(mode=0o755)  # a folder the user made, open to all
        simulate(series, home, "room1", board_dir=tmp_path / "board", transport=net)
        secrets = [home.key_path.read_bytes(), broker.files.password("room1").encode()]
    board = secret_files(tmp_path / "board", secrets)
    assert {p.name for p in board} >= {"key.bin", "secrets.json"}
    found = board + secret_files(home.path, secrets) + secret_files(broker.folder, secrets)
    for path in found:
        assert_private(path, tmp_path)


def _sim(tmp_path, home, *args):
    """`veil sim` in the background, with its own temporary folder."""
    tmp = tmp_path / "tmp"
    tmp.mkdir(exist_ok=True)
    cmd = [sys.executable, "-m", "veil.cli", "sim", str(ROOM), "--home", str(home.path),
           "--device", "room1", "--channel", "S1_Temp", "--out", str(tmp_path / "f.jsonl"),
           *args]  # fmt: skip
    env = dict(os.environ, TMPDIR=str(tmp))
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    return proc, tmp


def _running_board(tmp: Path) -> Path:
    """The flash folder of the sim's virtual board, once its firmware is publishing."""

    def feed():
        return next((f for f in tmp.rglob("board/feed.jsonl") if f.stat().st_size), None)

    wait_for(lambda: feed() is not None, timeout=120)
    return feed().parent


def test_a_sim_killed_leaves_its_key_private_and_the_next_run_removes_it(
    home, tmp_path, monkeypatch, figures
):
    proc, tmp = _sim(tmp_path, home, "--realtime", "--rows", "200")
    try:
        board = _running_board(tmp)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        wait_for(lambda: not interpreters(board), timeout=10)  # died with its host
    finally:
        proc.kill()
        proc.communicate()
    key = home.key_path.read_bytes()
    left = secret_files(tmp, [key])
    assert left, "the killed sim's board should still be there for this test to mean anything"
    for path in left:
        assert_private(path, tmp)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp))  # the next run, in the same place
    with scratch("sim"):
        assert secret_files(tmp, [key]) == []
    figures(
        "`veil sim` killed (SIGKILL) mid-run",
        notes=f"{len(left)} key file(s) left, 0600 in a 0700 scratch folder; its interpreter "
        "died with it; the next run removed them",
    )


def test_a_killed_board_ends_the_sim_with_one_line(home, tmp_path, figures):
    """Its interpreter killed mid-run, the virtual board resets as a board would; mpremote
    would wait for ever for the end of the firmware's output. `veil sim` says what happened."""
    proc, tmp = _sim(tmp_path, home, "--realtime", "--speed", "20", "--rows", "200")
    try:
        board = _running_board(tmp)
        [pid] = interpreters(board)
        os.kill(pid, signal.SIGKILL)
        killed = time.monotonic()
        out, err = proc.communicate(timeout=60)
        took = time.monotonic() - killed
    finally:
        proc.kill()
    assert proc.returncode == 1, out + err
    lines = err.strip().splitlines()
    assert lines[-1].startswith(
        "veil: error: the virtual board's MicroPython was killed (signal 9) while the firmware ran"
    ), err
    assert "Traceback" not in err
    assert not interpreters(board)
    figures(
        "the virtual board's MicroPython killed (SIGKILL) during `veil sim`",
        notes=f"`veil sim` ended {took:.1f} s later with one line (exit 1)",
    )


def test_every_board_operation_ends_at_its_deadline(tmp_path):
    """A board that stops talking (here: code that sleeps) ends a command at its timeout and
    streamed code once it has been quiet for `idle` seconds, each with one line; the board is
    still usable afterwards (the next command interrupts what it was doing)."""
    flash = tmp_path / "flash"
    flash.mkdir()
    with VirtualBoard(flash) as vb:
        link = BoardLink(vb.port)
        started = time.monotonic()
        with pytest.raises(BoardError, match=r"did not finish exec within 2 s$"):
            link.exec("import time\ntime.sleep(60)", timeout=2)
        with pytest.raises(BoardError, match=r"printed nothing for 2 s$"):
            link.stream("print('tick')\nimport time\ntime.sleep(60)", lambda _line: None, idle=2)
        assert time.monotonic() - started < 30
        assert link.eval("1 + 1") == 2
