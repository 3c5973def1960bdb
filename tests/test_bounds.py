"""A reading outside its channel's bounds is never published (docs/protocol.md 4.3): on the
real firmware, a walked channel gets the decoys' stand-in and a shared (public) channel holds
its last in-bounds reading on every track; the owner sees a stand-in either way."""

import json

from veil import dataset
from veil.feed import read_feed
from veil.owner.decode import decode
from veil.protocol import Channel

from conftest import ROOM, run_firmware


def test_a_shared_channel_holds_its_last_in_bounds_reading_on_every_track(home, tmp_path):
    room = dataset.load(ROOM, channels=["S1_Temp"], limit=300)
    press = Channel("pressure", 0, 30000, 110000)  # a public kind: every track carries it
    rows = [[t[0], 101000 + n % 7] for n, t in enumerate(room.rows)]
    rows[100][1] = 2_000_000  # far above its bounds
    rows[101][1] = None  # the sensor failed
    rows[150][1] = 10  # below them
    series = dataset.Series(room.times, [room.channels[0], press], rows)
    _spec, _log = run_firmware(home, tmp_path / "b", series)
    lines = (tmp_path / "b" / "feed.jsonl").read_bytes().splitlines()
    assert len({len(x) for x in lines}) == 1
    by_seq = {}
    for r in map(json.loads, lines):
        by_seq.setdefault(r["seq"], set()).add(r["val"]["pressure"])
    assert all(len(v) == 1 for v in by_seq.values())  # the same on every track
    assert by_seq[100] == by_seq[101] == by_seq[99] == {rows[99][1]}
    assert by_seq[150] == {rows[149][1]}
    assert all(30000 <= x <= 110000 for v in by_seq.values() for (x,) in [tuple(v)])
    readings, report = decode(home.keys(), home.devices(), read_feed(tmp_path / "b" / "feed.jsonl"))
    assert report.clean
    assert {r.seq for r in readings if r.mask} == {100, 101, 150}
    assert all(r.mask == 0b10 for r in readings if r.mask)
