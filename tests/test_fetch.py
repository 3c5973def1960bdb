"""The feed off the board: copied through mpremote's mount at the link's speed, with progress,
within a time that scales with its size; `veil sim` of a week of 1-minute data works."""

from __future__ import annotations

import pytest

from veil import dataset
from veil.boards import fetch
from veil.boards.link import BoardError, BoardLink
from veil.feed import read_feed
from veil.owner.decode import decode
from veil.sim.replay import simulate
from veil.sim.vboard import VirtualBoard

from conftest import ROOM, ROOM_CHANNELS

LINE = b'{"v":1,"dev":"room1","seq":1,"val":{"t":24.94},"tag":"9f0c"}' + b" " * 130 + b"\n"


def test_copy_is_exact_and_reports_progress_up_to_the_size(tmp_path):
    root = tmp_path / "board"
    root.mkdir()
    data = LINE * 20_000  # 3.8 MB, several progress lines
    (root / "feed.jsonl").write_bytes(data)
    seen = []
    with VirtualBoard(root) as vb:
        n = fetch.copy_feed(
            BoardLink(vb.port),
            "feed.jsonl",
            tmp_path / "out.jsonl",
            progress=lambda *a: seen.append(a),
        )
    assert n == len(data)
    assert (tmp_path / "out.jsonl").read_bytes() == data
    assert len(seen) > 10 and seen[-1] == (len(data), len(data))
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".veil-fetch")]


def test_the_time_a_copy_may_take_grows_with_its_size():
    assert fetch.timeout_for(0) == fetch.SETUP_S
    assert fetch.timeout_for(876_000) == pytest.approx(fetch.SETUP_S + 876_000 / fetch.MIN_RATE)


def test_a_stream_past_its_time_is_stopped_and_says_the_figure(tmp_path):
    with VirtualBoard(tmp_path) as vb:
        link = BoardLink(vb.port)
        with pytest.raises(BoardError, match=r"did not finish sleeping within 0\.5 s$"):
            link.stream("import time\ntime.sleep(30)", print, timeout=0.5, doing="sleeping")


def test_sim_of_10000_ticks_of_four_channels(home, tmp_path):
    """About a week of 1-minute data: the copy off the board used to run past a fixed 60 s."""
    series = dataset.cycled(dataset.load(ROOM, channels=ROOM_CHANNELS), 10_000)
    out = tmp_path / "feed.jsonl"
    result = simulate(series, home, "week", feed_out=out, k=4)
    assert result.ticks == 10_000
    readings, report = decode(home.keys(), home.devices(), read_feed(out))
    assert report.clean and len(readings) == 10_000
