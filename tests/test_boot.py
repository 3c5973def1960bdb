"""The firmware at boot: errors that need the owner end as one `veil: error:` line, a
transient OSError while the device starts is retried until it goes away."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from veil.firmware import firmware_dir
from veil.sim.replay import SimError, run_folder

from conftest import provision_folder


@pytest.fixture
def board(home, tmp_path, room_series):
    folder = tmp_path / "board"
    provision_folder(home, folder, room_series)
    return folder


def test_a_replay_file_for_other_channels_is_one_error_line(board):
    replay = board / "replay.csv"
    replay.write_text(replay.read_text().replace("S1_Temp", "S9_Temp", 1))
    with pytest.raises(SimError, match=r"^firmware stopped: replay header .* does not match"):
        run_folder(board)


def test_a_missing_replay_file_is_one_error_line(board):
    (board / "replay.csv").unlink()
    with pytest.raises(SimError, match=r"^firmware stopped: no replay.csv: provision"):
        run_folder(board)


def test_a_bad_row_stops_the_replay_with_an_error_not_a_reset(board):
    lines = (board / "replay.csv").read_text().splitlines(keepends=True)
    lines[4] = lines[4].rstrip("\n") + ",7\n"
    (board / "replay.csv").write_text("".join(lines))
    with pytest.raises(SimError, match=r"^firmware stopped: row 4 has too many cells$"):
        run_folder(board)
    assert len((board / "feed.jsonl").read_bytes().splitlines()) == 3 * 4  # 3 ticks, k = 4


def test_an_oserror_at_start_is_retried_until_it_goes_away(board):
    """The spool's folder is missing when the device starts (as Wi-Fi or a sensor may be): the
    firmware logs the failure and retries; once the folder exists it runs the whole replay."""
    config = board / "config.json"
    cfg = json.loads(config.read_text())
    config.write_text(json.dumps({**cfg, "sink": {"type": "spool", "file": "spool/feed.jsonl"}}))
    exe = shutil.which("micropython", path=f"{Path(sys.executable).parent}:{os.environ['PATH']}")
    env = dict(os.environ, MICROPYPATH=f"{firmware_dir()}:.frozen")
    p = subprocess.Popen(
        [exe, "-c", "from veil import app\napp.main()"],
        cwd=board,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    deadline = time.monotonic() + 60
    log = []
    try:
        for line in p.stdout:
            log.append(line)
            if line.startswith("veil: start failed:"):
                (board / "spool").mkdir(exist_ok=True)
            assert time.monotonic() < deadline, "".join(log)
        assert p.wait(timeout=60) == 0, "".join(log)
    finally:
        p.kill()
        p.wait()
    out = "".join(log)
    assert "veil: start failed: [Errno 2] ENOENT - retry in 1000 ms" in out
    assert "veil: stopped after 300 ticks" in out
    assert len((board / "spool" / "feed.jsonl").read_bytes().splitlines()) == 300 * 4
