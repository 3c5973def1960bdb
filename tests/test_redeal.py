"""Protocol v2 on the real firmware under MicroPython: the real household is re-dealt every
household day (04:00 local time), the owner recovers every reading bit-exact across the
re-deals and every finding holds across a day boundary; v1 devices keep working."""

import json

import pytest

from test_decode import _decode, _is_real
from veil import dataset
from veil.owner.home import Home
from veil.protocol import DeviceSpec, household_day

from conftest import ROOM, run_firmware, run_mpy_tests

HOME_CSV = ROOM.with_name("appliances_home.csv")
TZ = 3600  # the home is at UTC+1: its days start at 03:00 UTC
DAYS = 4


def test_firmware_roles_under_micropython(tmp_path):
    """roles.py: v1 keeps one track, v2 re-deals at 04:00 local, a tick allocates nothing."""
    run_mpy_tests("roles.py", tmp_path)


@pytest.fixture(scope="module")
def redealt(tmp_path_factory):
    """Four days of a room's temperature and humidity (every 10 min) on a v2 board at UTC+1."""
    tmp = tmp_path_factory.mktemp("redeal")
    home = Home(tmp / "home")
    home.keygen()
    series = dataset.load(HOME_CSV, channels=["T1", "RH_1"], limit=DAYS * 144)
    spec, _log = run_firmware(home, tmp / "board", series, device="room", tz=TZ)
    lines = (tmp / "board" / "feed.jsonl").read_bytes().splitlines(keepends=True)
    return home, spec, series, lines


def test_the_real_track_changes_with_the_household_day(redealt):
    home, spec, _series, lines = redealt
    assert (spec.version, spec.tz) == (2, TZ)
    recs = [json.loads(ln) for ln in lines]
    assert {r["v"] for r in recs} == {2}
    days = {}
    for r in recs:
        if _is_real(home, spec, r):
            days.setdefault(household_day(r["ts"], TZ), set()).add(r["trk"])
    assert len(days) >= DAYS  # a day starts at 04:00 local time
    assert all(len(t) == 1 for t in days.values())  # one real track a day
    assert len({t for ts in days.values() for t in ts}) >= 2  # and not always the same one
    # the re-deal happens at 04:00 local, 03:00 UTC
    first = min(r["ts"] for r in recs if household_day(r["ts"], TZ) == min(days) + 1)
    assert (first + TZ) % 86400 == 4 * 3600


def test_owner_recovers_every_reading_bit_exact_across_redeals(redealt, tmp_path):
    home, _spec, series, lines = redealt
    readings, report = _decode(home, lines, tmp_path)
    assert report.clean, report.to_json()
    assert [r.ts for r in readings] == series.times
    assert [list(r.values) for r in readings] == series.rows
    assert report.total("verified_fake") == 3 * len(series.times)


def _at_a_redeal(home, spec, lines):
    """Indices of the lines of the last tick before a re-deal and the first after it."""
    recs = [json.loads(ln) for ln in lines]
    day = [household_day(r["ts"], TZ) for r in recs]
    after = next(i for i in range(1, len(recs)) if day[i] != day[i - 1])
    seqs = {recs[after - 1]["seq"], recs[after]["seq"]}
    return recs, [i for i, r in enumerate(recs) if r["seq"] in seqs]


def test_findings_hold_across_a_day_boundary(redealt, tmp_path):
    """Around a re-deal: the real record of the tick before and of the tick after deleted, a
    fake of each deleted, one more real record altered; each is found as what it is."""
    home, spec, series, lines = redealt
    recs, around = _at_a_redeal(home, spec, lines)
    reals = [i for i in around if _is_real(home, spec, recs[i])]
    fakes = [i for i in around if not _is_real(home, spec, recs[i])]
    assert len(reals) == 2
    gone = {*reals, fakes[0], fakes[-1]}
    bad = [ln for i, ln in enumerate(lines) if i not in gone]
    target = next(i for i in range(reals[-1] + 1, len(lines)) if _is_real(home, spec, recs[i]))
    j = target - sum(1 for g in gone if g < target)
    bad[j] = bad[j].replace(b'"T1":', b'"T1":1', 1)
    readings, report = _decode(home, bad, tmp_path)
    counts = report.devices["room"].counts
    assert (counts["missing"], counts["missing_fake"], counts["altered"]) == (2, 2, 1)
    assert counts["injected"] == 0
    assert len(readings) == len(series.times) - 3


def test_reordered_and_replayed_across_a_redeal(redealt, tmp_path):
    home, spec, _series, lines = redealt
    _recs, around = _at_a_redeal(home, spec, lines)
    moved = [ln for i, ln in enumerate(lines) if i not in around] + [lines[i] for i in around]
    _readings, report = _decode(home, [*moved, lines[around[0]]], tmp_path)
    assert report.clean
    assert report.total("reordered") == len(around) and report.total("duplicated") == 1


def test_a_v1_device_keeps_its_fixed_real_track(tmp_path):
    """A device the home defined under v1 stays v1: its board publishes "v":1 records with
    one real track for the epoch, and they decode as before."""
    home = Home(tmp_path / "home")
    home.keygen()
    series = dataset.load(HOME_CSV, channels=["T1"], limit=3 * 144)
    home.save_device(DeviceSpec("old", 4, 0, tuple(series.channels), version=1))
    spec, _log = run_firmware(home, tmp_path / "board", series, device="old")
    assert spec.version == 1
    lines = (tmp_path / "board" / "feed.jsonl").read_bytes().splitlines(keepends=True)
    recs = [json.loads(ln) for ln in lines]
    assert {r["v"] for r in recs} == {1}
    real = home.keys().real_track(spec)
    readings, report = _decode(home, lines, tmp_path)
    assert report.clean
    assert [list(r.values) for r in readings] == series.rows
    assert {r["trk"] for r in recs if r["seq"] in {x.seq for x in readings}} == set(range(4))
    assert report.total("verified_real") == sum(1 for r in recs if r["trk"] == real)
