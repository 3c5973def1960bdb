"""The decoys of the real firmware under MicroPython: one household story across a home's
devices, nothing to see when the real sensor fails or the board reboots, compact profiles."""

import json

import numpy as np

from veil import dataset
from veil.feed import read_feed
from veil.owner.decode import decode
from veil.owner.home import Home
from veil.privacy.profile import check, fit_series
from veil.privacy.walk import table_bytes
from veil.protocol import placement, real_household

from conftest import ROOM, run_firmware

ROWS = 2000
DAYS_2 = 4241  # the room's two days with people in


def _tracks(lines, k):
    """(k, T, C) values per track and the sequence numbers, from one device's feed lines."""
    recs = [json.loads(x) for x in lines]
    seqs = sorted({r["seq"] for r in recs})
    at = {s: i for i, s in enumerate(seqs)}
    names = list(recs[0]["val"])
    out = np.zeros((k, len(seqs), len(names)))
    for r in recs:
        out[r["trk"], at[r["seq"]]] = [r["val"][n] for n in names]
    return out, np.array(seqs)


def test_households_tell_one_story_across_devices(tmp_path):
    """Fake household j is busy at the same times on the CO2 node and on the PIR node. Four
    homes over six days (their keys are random: two give too few pairs to judge by). A fake
    household may be away nearly all along (the office profile has long empty spells), and
    one that is tells nothing: only tracks with motion in more than 5 % of ten-minute bins
    are compared."""
    co2 = dataset.load(ROOM, channels=["S5_CO2"], limit=DAYS_2)
    pir = dataset.load(ROOM, channels=["S6_PIR"], limit=DAYS_2)
    occupancy = fit_series(co2)["occupancy"]
    profiles = fit_series(co2), fit_series(pir, occupancy=occupancy)
    n = 3 * len(co2.times)
    co2, pir = dataset.cycled(co2, n), dataset.cycled(pir, n)
    bins = range(0, n - 1, 20)  # ten minutes
    same, other = [], []
    for h in ("h1", "h2", "h3", "h4"):
        home = Home(tmp_path / h)
        home.keygen()
        run_firmware(home, tmp_path / h / "a", co2, device="co2", profile=profiles[0])
        run_firmware(home, tmp_path / h / "b", pir, device="pir", profile=profiles[1])
        a, _ = _tracks((tmp_path / h / "a" / "feed.jsonl").read_bytes().splitlines(), 4)
        b, _ = _tracks((tmp_path / h / "b" / "feed.jsonl").read_bytes().splitlines(), 4)
        keys = home.keys()
        ha = placement(keys.track, "co2", 0, 4)
        hb = placement(keys.track, "pir", 0, 4)
        real = real_household(keys.track, 0, 4)  # its sensors agree anyway: left out
        # activity: CO2 rising, motion seen
        rise = np.add.reduceat(np.clip(np.diff(a[:, :, 0], axis=1), 0, None), bins, axis=1)
        moving = np.add.reduceat(b[:, 1:, 0], bins, axis=1)
        for i in range(4):
            for j in range(4):
                home_a_while = (moving[j] > 0).mean() > 0.05  # people there, some of the time
                if rise[i].std() and home_a_while and real not in (ha[i], hb[j]):
                    r = np.corrcoef(rise[i], moving[j])[0, 1]
                    (same if ha[i] == hb[j] else other).append(r)
    assert len(same) >= 2 and other, (same, other)
    # measured over random keys (2026-12-02): same 0.15-0.33 above other; the coupling comes
    # from the shared household state alone, so it is weaker than the sensors' own
    assert np.mean(same) > np.mean(other) + 0.1, (same, other)


def test_a_failing_real_sensor_is_invisible_to_the_platform(home, tmp_path):
    series = dataset.load(ROOM, channels=["S1_Temp", "S5_CO2"], limit=ROWS)
    failing = {n for n in range(500, 520)} | {900}
    for n in failing:
        series.rows[n] = [None, None] if n == 900 else [None, series.rows[n][1]]
    run_firmware(home, tmp_path / "b", series, profile=fit_series(series))
    lines = (tmp_path / "b" / "feed.jsonl").read_bytes().splitlines()
    assert len({len(x) for x in lines}) == 1
    readings, report = decode(home.keys(), home.devices(), read_feed(tmp_path / "b" / "feed.jsonl"))
    assert report.clean and report.total("stand_in") == len(failing)
    assert {r.seq for r in readings if r.mask} == failing
    assert next(r for r in readings if r.seq == 900).mask == 0b11
    values, _ = _tracks(lines, 4)
    steps = np.abs(np.diff(values, axis=1))  # (k, T-1, C)
    at_failure = sorted(n - 1 for n in failing)
    normal = np.delete(steps, at_failure, axis=1)
    for t in range(4):  # no track, the real one included, moves unusually when it fails
        for c in range(2):
            assert steps[t, at_failure, c].max() <= np.percentile(normal[t, :, c], 99.9) + 1e-9


def test_profiles_are_compact_and_valid():
    room = dataset.load(ROOM, channels=["S1_Temp", "S1_Light", "S5_CO2", "S6_PIR"])
    profile = fit_series(room)
    check(profile)
    for model in profile["channels"].values():  # the tables' share of the board's heap
        assert table_bytes(model) <= 4608  # docs/decoys.md: at most 4.5 KB a channel
