"""Owner decode on a feed published by the real firmware under MicroPython: every kind of
tampering and transport accident is detected and reported, and every untouched real reading
is still recovered exactly."""

import json
import random

import pytest
from click.testing import CliRunner

from reference_decode import same_as_reference
from veil.cli import cli
from veil.owner.decode import WrongKeyError
from veil.owner.home import Home
from veil.protocol import Channel, DeviceSpec, encode_line


def _decode(home, lines, tmp_path):
    """The batch decoder's readings and report on a feed file, after checking both against
    the reference decoder's on the same file (tests/reference_decode.py)."""
    feed = tmp_path / "feed.jsonl"
    feed.write_bytes(b"".join(lines))
    return same_as_reference(home.keys(), home.devices(), feed)


def _is_real(home, spec, rec):
    return rec["trk"] == home.keys().real_track(spec, ts=rec["ts"], v=rec["v"])


def _real_lines(home, spec, lines):
    return [i for i, ln in enumerate(lines) if _is_real(home, spec, json.loads(ln))]


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
    i = next(i for i, ln in enumerate(lines) if not _is_real(home, spec, json.loads(ln)))
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
    lost_real = _is_real(home, spec, last)
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


def _boots(home, boots, spec=D1, reports=None, t0=1_700_000_000):
    """A device's genuine feed: `boots` is [(boot, first seq, ticks)], one record per track per
    tick, 30 s apart; the real record of tick s carries the drop report `reports.get(s, 0)`."""
    home.save_device(spec)
    keys = home.keys()
    lines = []
    for boot, first, ticks in boots:
        for seq in range(first, first + ticks):
            ts = t0 + 30 * seq
            real = keys.real_track(spec, ts=ts)
            for trk in range(spec.k):
                drops = (reports or {}).get(seq, 0) if trk == real else 0
                line = encode_line(
                    spec, keys, boot=boot, seq=seq, trk=trk, ts=ts, values=(200 + seq % 50,),
                    drops=drops,
                )  # fmt: skip
                lines.append(line + b"\n")
    return lines


def _without(lines, drop):
    """The feed less the records for which drop(record) is true."""
    return [ln for ln in lines if not drop(json.loads(ln))]


def test_reboots_skip_at_most_r_sequence_numbers(home, tmp_path):
    lines = _boots(home, [(0, 0, 100), (1, 164, 100), (2, 264, 50)])
    _readings, report = _decode(home, lines, tmp_path)
    assert report.clean
    assert report.devices["d1"].skipped_at_reboot == 64


def test_a_deleted_boot_is_missing_with_counts(home, tmp_path):
    """Issue 10 item 7: boot 1 (4,900 ticks) removed between boots 0 and 2."""
    lines = _boots(home, [(0, 0, 100), (1, 164, 4900), (2, 5100, 50)])
    readings, report = _decode(home, _without(lines, lambda r: r["boot"] == 1), tmp_path)
    dev = report.devices["d1"]
    assert not report.clean
    assert dev.counts["missing_boot"] == 1
    assert report.examples["missing_boot"] == ["d1 boot 1: no record"]
    lost = 5100 - 100 - 2 * 64  # at most R skipped by each of the two reboots
    assert dev.counts["missing"] == lost
    assert dev.counts["missing_fake"] == 3 * lost
    assert dev.skipped_at_reboot == 2 * 64
    assert "between boot 0 and boot 2" in report.examples["missing"][0]
    assert len(readings) == 150


def test_a_gap_beyond_r_at_a_reboot_is_missing(home, tmp_path):
    """The last 10 ticks of boot 0 deleted: the reboot's skip of 64 grows to 74."""
    lines = _boots(home, [(0, 0, 100), (1, 164, 20)])
    _readings, report = _decode(home, _without(lines, lambda r: 90 <= r["seq"] < 100), tmp_path)
    assert report.devices["d1"].counts["missing"] == 10
    assert report.devices["d1"].counts["missing_boot"] == 0


def test_a_real_record_deleted_at_a_boots_first_or_last_tick_is_missing(home, tmp_path):
    lines = _boots(home, [(0, 0, 40), (1, 100, 40), (2, 200, 40)])
    keys = home.keys()
    ends = {39, 100, 139, 200}

    def real_end(r):
        return r["seq"] in ends and r["trk"] == keys.real_track(D1, ts=r["ts"])

    readings, report = _decode(home, _without(lines, real_end), tmp_path)
    assert report.devices["d1"].counts["missing"] == 4
    assert report.devices["d1"].counts["missing_fake"] == 0
    assert {r.seq for r in readings}.isdisjoint(ends)


def test_deleted_fakes_are_reported(home, tmp_path):
    lines = _boots(home, [(0, 0, 60)])
    keys = home.keys()

    def fake_at(r):
        return r["seq"] in (1, 30, 31, 58) and r["trk"] != keys.real_track(D1, ts=r["ts"])

    readings, report = _decode(home, _without(lines, fake_at), tmp_path)
    assert not report.clean
    assert report.devices["d1"].counts["missing_fake"] == 4 * 3
    assert report.devices["d1"].counts["missing"] == 0
    assert len(readings) == 60


def test_a_board_that_lost_its_state_is_not_called_duplicated(home, tmp_path):
    """Restarted at boot 0, seq 0 (flash erased): the same slots again, valid, different."""
    first = _boots(home, [(0, 0, 30)])
    again = _boots(home, [(0, 0, 10)], t0=1_700_100_000)
    readings, report = _decode(home, [*first, *again, *first[:8]], tmp_path)
    dev = report.devices["d1"]
    assert dev.counts["reused_slot"] == 40
    assert dev.counts["duplicated"] == 8
    assert not report.clean
    assert "published twice, differently" in report.examples["reused_slot"][0]
    assert [r.ts for r in readings] == [1_700_000_000 + 30 * s for s in range(30)]


def test_reordered_counts_every_verified_record(home, tmp_path):
    lines = _boots(home, [(0, 0, 20)])
    keys = home.keys()
    i = next(
        n for n, ln in enumerate(lines)
        if json.loads(ln)["seq"] == 3 and json.loads(ln)["trk"] != keys.real_track(D1, ts=0)
    )  # fmt: skip
    moved = [*lines[:i], *lines[i + 1 :], lines[i]]
    _readings, report = _decode(home, moved, tmp_path)
    assert report.total("reordered") == 1
    assert report.clean


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ({"val": {"u": 20.0}}, "channel t missing"),  # a channel the device does not have
        ({"val": {"t": 20.0, "u": 1}}, "2 values, device d1 has 1"),  # one too many
        ({"val": {"t": 300000000.5}}, "a value of device d1 is beyond 32 bits"),  # at 1 decimal
    ],
    ids=["renamed", "extra", "beyond-32-bits"],
)
def test_a_val_that_fits_no_record_of_the_device_is_malformed_for_it(home, tmp_path, change, why):
    """A record of a known device and track whose values cannot be its own cannot verify: it
    is malformed for that device, saying why, wherever its slot lies; the slot it leaves
    empty is missing like any other."""
    lines = _boots(home, [(0, 0, 20)])
    bad = [*lines]
    bad[21] = (json.dumps(dict(json.loads(lines[21]), **change)) + "\n").encode()
    _readings, report = _decode(home, bad, tmp_path)
    assert report.devices["d1"].counts["malformed"] == 1 and report.total("altered") == 0
    assert report.examples["malformed"] == [f"feed.jsonl:22: seq 5 track 1: {why}"]
    assert report.total("missing") + report.total("missing_fake") == 1
    beyond = dict(json.loads(lines[21]), seq=10**6, **change)
    _readings, report = _decode(home, [*lines, (json.dumps(beyond) + "\n").encode()], tmp_path)
    assert report.devices["d1"].counts["malformed"] == 1 and report.total("injected") == 0
    assert report.clean is False


def test_drops_across_a_reboot_are_explained(home, tmp_path):
    """The outbox dropped the last 20 ticks of boot 0 (80 records) and reported them from boot 1."""
    lines = _boots(home, [(0, 0, 100), (1, 164, 20)], reports={170: 80})
    _readings, report = _decode(home, _without(lines, lambda r: 80 <= r["seq"] < 100), tmp_path)
    dev = report.devices["d1"]
    assert (dev.counts["missing"], dev.counts["missing_fake"], dev.counts["missing_dropped"]) == (
        0,
        0,
        20,
    )
    assert report.clean


def test_a_feed_cut_inside_its_first_or_last_tick_is_no_loss(home, tmp_path):
    """Records go out in track order: a feed read from the middle of a tick on (a live decode
    joining late), or up to the middle of one (stopped early), has lost nothing it could see."""
    lines = _boots(home, [(0, 0, 30)])
    _readings, report = _decode(home, lines[2:-1], tmp_path)
    assert report.clean
    dev = report.devices["d1"]
    assert dev.counts["missing"] == dev.counts["missing_fake"] == 0
    _readings, report = _decode(home, [*lines[:1], *lines[2:]], tmp_path)  # track 1 of tick 0
    assert report.total("missing") + report.total("missing_fake") == 1
