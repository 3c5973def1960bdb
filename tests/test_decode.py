"""Owner decode on a feed published by the real firmware under MicroPython: every kind of
tampering and transport accident is detected and reported, and every untouched real reading
is still recovered exactly."""

import json
import random

import pytest
from click.testing import CliRunner

from veil.cli import cli
from veil.feed import read_feed
from veil.owner.decode import WrongKeyError, decode
from veil.owner.home import Home
from veil.protocol import Channel, DeviceSpec, encode_line


def _decode(home, lines, tmp_path):
    feed = tmp_path / "feed.jsonl"
    feed.write_bytes(b"".join(lines))
    return decode(home.keys(), home.devices(), read_feed(feed))


def _real_lines(home, spec, lines):
    rt = home.keys().real_track(spec)
    return [i for i, ln in enumerate(lines) if json.loads(ln)["trk"] == rt]


def _values(readings):
    return [(r.seq, r.ts, r.values, r.mask) for r in readings]


def test_clean_feed_recovers_every_reading(genuine, room_series, tmp_path):
    home, _spec, lines = genuine
    readings, report = _decode(home, lines, tmp_path)
    assert report.clean
    assert len(lines) == 4 * len(room_series.times)
    assert [r.ts for r in readings] == room_series.times
    assert [list(r.values) for r in readings] == room_series.rows
    assert report.total("verified_fake") == 3 * len(room_series.times)


def test_flipped_byte_is_reported_as_altered(genuine, tmp_path):
    home, spec, lines = genuine
    clean, _ = _decode(home, lines, tmp_path)
    i = _real_lines(home, spec, lines)[100]
    bad = list(lines)
    rec = json.loads(bad[i])
    first = next(iter(rec["val"]))
    bad[i] = bad[i].replace(f'"{first}":'.encode(), f'"{first}":1'.encode(), 1)
    readings, report = _decode(home, bad, tmp_path)
    assert report.total("altered") == 1
    assert report.total("missing") == 0
    assert _values(readings) == [v for v in _values(clean) if v[0] != rec["seq"]]


def test_flipped_tag_bit_on_a_fake_is_reported(genuine, tmp_path):
    home, spec, lines = genuine
    rt = home.keys().real_track(spec)
    i = next(i for i, ln in enumerate(lines) if json.loads(ln)["trk"] != rt)
    rec = json.loads(lines[i])
    tag = rec["tag"]
    flipped = tag[:-1] + ("0" if tag[-1] != "0" else "1")
    bad = list(lines)
    bad[i] = lines[i].replace(tag.encode(), flipped.encode())
    readings, report = _decode(home, bad, tmp_path)
    assert report.total("altered") == 1
    assert len(readings) == len(lines) // 4


def test_injected_record_is_reported(genuine, tmp_path):
    home, spec, lines = genuine
    clean, _ = _decode(home, lines, tmp_path)
    i = _real_lines(home, spec, lines)[50]
    rec = json.loads(lines[i])
    forged = dict(rec, val={k: v + 1 for k, v in rec["val"].items()})
    beyond = dict(rec, seq=10**6)
    extra = [(json.dumps(forged) + "\n").encode(), (json.dumps(beyond) + "\n").encode()]
    readings, report = _decode(home, [*lines[:200], *extra, *lines[200:]], tmp_path)
    assert report.total("injected") == 2
    assert report.total("altered") == 0
    assert _values(readings) == _values(clean)


def test_replayed_record_is_reported(genuine, tmp_path):
    home, spec, lines = genuine
    clean, _ = _decode(home, lines, tmp_path)
    i = _real_lines(home, spec, lines)[10]
    readings, report = _decode(home, [*lines, lines[i], lines[i + 1]], tmp_path)
    assert report.total("duplicated") == 2
    assert report.clean
    assert _values(readings) == _values(clean)


def test_dropped_record_is_reported_missing(genuine, tmp_path):
    home, spec, lines = genuine
    clean, _ = _decode(home, lines, tmp_path)
    real = _real_lines(home, spec, lines)
    drop = {real[20], real[21], real[200]}
    readings, report = _decode(home, [ln for i, ln in enumerate(lines) if i not in drop], tmp_path)
    assert report.total("missing") == 3
    lost = {json.loads(lines[i])["seq"] for i in drop}
    assert _values(readings) == [v for v in _values(clean) if v[0] not in lost]
    assert any("seq" in e for e in report.examples["missing"])


def test_reordered_delivery_is_reported_and_harmless(genuine, tmp_path):
    home, _spec, lines = genuine
    clean, _ = _decode(home, lines, tmp_path)
    shuffled = list(lines)
    random.Random(7).shuffle(shuffled)
    readings, report = _decode(home, shuffled, tmp_path)
    assert report.total("reordered") > 0
    assert report.clean
    assert _values(readings) == _values(clean)


def test_wrong_key_is_a_clear_error(genuine, tmp_path):
    _home, spec, lines = genuine
    other = Home(tmp_path / "other")
    other.keygen()
    other.save_device(spec)
    with pytest.raises(WrongKeyError):
        _decode(other, lines, tmp_path)
    (tmp_path / "f.jsonl").write_bytes(b"".join(lines))
    r = CliRunner().invoke(cli, ["decode", "--home", str(other.path), str(tmp_path / "f.jsonl")])
    assert r.exit_code != 0
    assert "none of" in str(r.exception) and "home key" in str(r.exception)


def test_truncated_feed_is_reported_and_rest_recovered(genuine, tmp_path):
    home, spec, lines = genuine
    clean, _ = _decode(home, lines, tmp_path)
    cut = [*lines[:-1], lines[-1][:40]]
    readings, report = _decode(home, cut, tmp_path)
    assert report.total("malformed") == 1
    assert "truncated" in report.examples["malformed"][0]
    last = json.loads(lines[-1])
    lost_real = last["trk"] == home.keys().real_track(spec)
    assert _values(readings) == [
        v for v in _values(clean) if not (lost_real and v[0] == last["seq"])
    ]


D1 = DeviceSpec("d1", 4, 0, (Channel("t", 1, -400, 850),))


def _feed_with_drop_reports(home, ticks, gone, reports):
    """A device's feed encoded with the home key: every slot (seq, trk) but those in `gone`,
    its real record of tick s carrying the drop report `reports.get(s, 0)`."""
    spec = D1
    home.save_device(spec)
    keys = home.keys()
    real = keys.real_track(spec)
    lines = []
    for seq in range(ticks):
        for trk in range(spec.k):
            if (seq, trk) in gone:
                continue
            drops = reports.get(seq, 0) if trk == real else 0
            line = encode_line(
                spec, keys, boot=0, seq=seq, trk=trk, ts=1_700_000_000 + 30 * seq,
                values=(200 + seq,), drops=drops,
            )  # fmt: skip
            lines.append(line + b"\n")
    return lines


def test_records_the_device_reported_dropping_are_not_unexplained(home, tmp_path):
    """Ticks 10-84 (300 records) dropped by the board's outbox and reported in two parts (a
    report holds at most 255); one real record deleted later, beyond any report."""
    gone = {(s, t) for s in range(10, 85) for t in range(4)} | {(95, home.keys().real_track(D1))}
    lines = _feed_with_drop_reports(home, 100, gone, {86: 255, 87: 45})
    readings, report = _decode(home, lines, tmp_path)
    dev = report.devices["d1"]
    assert dev.dropped_by_device == 300
    assert dev.counts["missing_dropped"] == 75
    assert dev.counts["missing"] == 1 and report.examples["missing"] == ["d1 boot 0 seq 95"]
    assert [r.drops for r in readings if r.drops] == [255, 45]
    assert report.to_json()["devices"]["d1"]["dropped_by_device"] == 300


def test_a_report_explains_only_records_queued_before_it(home, tmp_path):
    """Drops are reported by later records: a gap after the last report stays unexplained, and
    a report larger than the gaps before it explains no more than they hold."""
    lines = _feed_with_drop_reports(
        home, 60, {(s, t) for s in (20, 21, 40) for t in range(4)}, {30: 50}
    )
    _readings, report = _decode(home, lines, tmp_path)
    dev = report.devices["d1"]
    assert (dev.dropped_by_device, dev.counts["missing_dropped"], dev.counts["missing"]) == (
        50,
        2,
        1,
    )
    assert not report.clean
