"""The decoys of the real firmware under MicroPython: one household story across a home's
devices, nothing to see when the real sensor fails or the board reboots, compact profiles."""

import base64
import json

import numpy as np
import pytest

from veil import dataset
from veil.feed import read_feed
from veil.owner.decode import decode
from veil.owner.home import Home
from veil.privacy.profile import check, fit_series
from veil.privacy.walk import WalkOptions, height_edges, table_bytes
from veil.protocol import Channel, placement, real_household

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
    """A device's tables share 120 quantile rows of 96 bytes (what six channels of 20 took
    when the heap was measured), at least 20 and at most 40 a channel, each with one byte a
    context (3 states x 4 bands x 6 heights x 10 runs at most): docs/decoys.md."""
    for names in (["S1_Temp", "S1_Light", "S5_CO2", "S6_PIR"], ["S1_Temp", "S1_Light"]):
        profile = fit_series(dataset.load(ROOM, channels=names))
        check(profile)
        rows = [len(base64.b64decode(m["P"])) // 48 for m in profile["channels"].values()]
        assert max(rows) <= min(40, 120 // len(names)) and sum(rows) <= 120, rows
        for model in profile["channels"].values():  # the tables' share of the board's heap
            assert table_bytes(model) <= 4608  # docs/decoys.md: under 4.6 KB a channel


def _door_days(days: int, seed: int) -> list[int]:
    """A contact at one reading a minute: shut, opened a few times a day for a few minutes,
    and once a day left open for one to three hours."""
    rng = np.random.default_rng(seed)
    x = np.zeros(days * 1440, dtype=int)
    for d in range(days):
        day = d * 1440
        for at in rng.integers(7 * 60, 23 * 60, size=6):
            x[day + at : day + at + rng.integers(1, 5)] = 1
        long = day + rng.integers(8 * 60, 18 * 60)
        x[long : long + rng.integers(60, 180)] = 1
    return x.tolist()


def test_a_switch_holds_its_state_as_the_real_one_does(home, tmp_path):
    """A 0/1 contact whose name reads like a temperature (`..._t_...`) walks as a switch:
    each fake opens about as often as the real door and stays open about as long, not
    flipping every few minutes."""
    door = _door_days(6, seed=5)
    t0 = 1_700_000_000 - 1_700_000_000 % 86400
    ch = Channel("hall_toilet_door", 0, 0, 2)
    series = dataset.Series([t0 + 60 * i for i in range(len(door))], [ch], [[v] for v in door])
    profile = fit_series(series)
    assert profile["channels"]["hall_toilet_door"]["kind"] == "door"
    later = _door_days(6, seed=6)
    replay = dataset.Series(
        [series.times[-1] + 60 * (i + 1) for i in range(len(later))], [ch], [[v] for v in later]
    )
    run_firmware(home, tmp_path / "b", replay, device="door", profile=profile)
    tracks, _ = _tracks((tmp_path / "b" / "feed.jsonl").read_bytes().splitlines(), 4)

    def open_spells(x):
        """How long the door stays open each time it opens, in minutes."""
        edges = np.diff(np.r_[0, x, 0])
        return np.flatnonzero(edges == -1) - np.flatnonzero(edges == 1)

    real = np.array(later)
    switches, spell = np.abs(np.diff(real)).sum(), open_spells(real).mean()
    for x in tracks[:, :, 0]:  # a fake household away for days opens it less: no lower bound
        assert 0 < np.abs(np.diff(x)).sum() <= switches * 3, np.abs(np.diff(x)).sum()
    spells = np.concatenate([open_spells(x) for x in tracks[:, :, 0]])  # fakes and the real
    assert spell / 3 <= spells.mean() <= spell * 3, (spells, spell)


def _tracks_of_three_homes(tmp_path, ch: Channel, period: int, fitted: list, now: list):
    """A one-channel device fitted on `fitted` and replayed over `now` (readings `period`
    seconds apart) under three homes' keys: the channel's kind and the 12 tracks published."""
    t0 = 1_700_000_000 - 1_700_000_000 % 86400
    series = dataset.Series(
        [t0 + period * i for i in range(len(fitted))], [ch], [[v] for v in fitted]
    )
    profile = fit_series(series)
    start = series.times[-1] + period
    replay = dataset.Series([start + period * i for i in range(len(now))], [ch], [[v] for v in now])
    out = []
    for h in ("h1", "h2", "h3"):
        home = Home(tmp_path / h)
        home.keygen()
        run_firmware(home, tmp_path / h / "b", replay, device="solo", profile=profile)
        tracks, _ = _tracks((tmp_path / h / "b" / "feed.jsonl").read_bytes().splitlines(), 4)
        out += list(tracks[:, :, 0])
    return profile["channels"][ch.name]["kind"], out


def _washer_days(days: int, seed: int) -> list[int]:
    """A washing machine's contact every minute: on for one to three minutes, about twice a
    week (kasteren's was on 0.24 times a day, for two minutes)."""
    rng = np.random.default_rng(seed)
    x = np.zeros(days * 1440, dtype=int)
    for at in rng.choice(len(x) - 3, size=max(2, round(days * 0.3)), replace=False):
        x[at : at + rng.integers(1, 4)] = 1
    return x.tolist()


def test_a_seldom_used_switch_is_seldom_on_in_the_fakes(tmp_path):
    """A contact on for a few minutes twice a week has too few steps in its on state for a
    row of its own by the usual rule, and it used to share the off state's row, in which
    leaving is as rare as arriving: on kasteren's washing machine (on 0.1 % of the time) the
    fakes were on 11-28 % of the time, 0.1-0.3 % with its own row. Here (two data seeds,
    three keys each) the tracks were on 200-420 times as often as the fitted history before,
    1.1-4.6 times now."""
    fitted = _washer_days(24, seed=3)
    ch = Channel("washingmachine", 0, 0, 1)
    kind, tracks = _tracks_of_three_homes(tmp_path, ch, 60, fitted, _washer_days(10, seed=4))
    assert kind == "door"
    on = np.mean(fitted)
    shares = [float(np.mean(x)) for x in tracks]
    assert np.mean(shares) <= 10 * on, (on, shares)


def _lamp_days(days: int, seed: int) -> list[int]:
    """A room's light in lux every 5 minutes: dark, and once or twice a day a lamp on for one
    to five hours at a brightness of its own (100-600 lux), jittering by a few lux."""
    rng = np.random.default_rng(seed)
    x = np.zeros(days * 288, dtype=int)
    for d in range(days):
        for _ in range(rng.integers(1, 3)):
            at = d * 288 + rng.integers(6 * 12, 20 * 12)
            on = x[at : at + rng.integers(12, 60)]
            on[:] = rng.integers(100, 600) + rng.integers(-3, 4, size=len(on))
    return x.tolist()


def test_a_fake_light_goes_dark_as_the_real_one_does(tmp_path):
    """A lamp switched off reads dark: a fake light whose step down would take it below dark
    stops there. It used to bounce back up by as much, so a fake that switched off a brighter
    lamp than its own lit up instead (robod: a twentieth of the fakes' readings dark against
    half of the real ones). Over three homes' keys the fakes were dark 0.35-0.44 times as often
    as the real room with the bounce, 0.55-0.66 times now (six data seeds)."""
    now = _lamp_days(21, seed=101)
    ch = Channel("living_light", 0, 0, 2000)
    kind, tracks = _tracks_of_three_homes(tmp_path, ch, 300, _lamp_days(21, seed=1), now)
    assert kind == "light"
    dark = np.mean(np.array(now) == 0)
    shares = [float(np.mean(x == 0)) for x in tracks]
    assert np.mean(shares) >= 0.5 * dark, (dark, shares)


def _room_days(days: int, swing: float, seed: int) -> list[int]:
    """A room's temperature in 1/10 degC every 10 minutes: 20 degC plus a daily swing peaking
    at 15:00 (the sun), slow weather and sensor noise."""
    rng = np.random.default_rng(seed)
    n = days * 144
    hours = np.arange(n) / 6 % 24
    weather = np.cumsum(rng.normal(0, 0.02, n))
    temp = 20 + swing * np.cos((hours - 15) / 24 * 2 * np.pi) + weather - weather.mean()
    return np.round((temp + rng.normal(0, 0.05, n)) * 10).astype(int).tolist()


def _fit_then_replay(
    home, folder, device: str, name: str, fitted: list[int], now: list[int], spend=False
):
    """A one-channel room in 1/10 degC every 10 minutes, fitted on `fitted`, then replayed by
    `device`'s firmware over `now` (with `spend`, the day's curve spent on the walk's
    toggles): its profile and the (k, T, 1) tracks it published."""
    t0 = 1_700_000_000 - 1_700_000_000 % 86400
    ch = Channel(name, 1, 0, 400)
    series = dataset.Series([t0 + 600 * i for i in range(len(fitted))], [ch], [[v] for v in fitted])
    profile = fit_series(series, options={name: WalkOptions(toggles=spend)})
    start = series.times[-1] + 600
    replay = dataset.Series([start + 600 * i for i in range(len(now))], [ch], [[v] for v in now])
    run_firmware(home, folder, replay, device=device, profile=profile)
    tracks, _ = _tracks((folder / "feed.jsonl").read_bytes().splitlines(), 4)
    return profile, tracks


@pytest.mark.parametrize("spend", [False, True], ids=["pushed", "spent on toggles"])
def test_a_climate_fake_follows_the_day_the_room_has_now(home, tmp_path, spend):
    """A room fitted in a season with a small daily swing and then warmed by the sun each
    afternoon: within weeks the fakes' average day has the real room's new swing and timing
    (before, they kept the fitted season's day, and the real track was the only one with a
    sunny afternoon). Nor do they move much more than the real room while doing so. So with
    the curve's move pushed into every draw, and spent on the walk's toggles alike."""
    now = _room_days(42, swing=2.0, seed=2)
    profile, tracks = _fit_then_replay(
        home, tmp_path / "b", "room", "T_living", _room_days(14, swing=0.3, seed=1), now, spend
    )
    assert profile["channels"]["T_living"]["kind"] == "temperature"
    assert profile["channels"]["T_living"].get("spend", 0) == spend
    last = slice(-14 * 144, None)  # the last two weeks

    def day(x):
        """The mean of each hour of the day, less the day's mean."""
        by_hour = np.asarray(x)[last].reshape(-1, 24, 6).mean(axis=(0, 2))
        return by_hour - by_hour.mean()

    real = day(np.array(now) / 10)
    moves = np.abs(np.diff(np.array(now)[last] / 10)).mean()
    for x in tracks[:, :, 0]:  # the real readings are on one track some days: all four judged
        fake = day(x)
        assert np.corrcoef(fake, real)[0, 1] > 0.8, (fake, real)
        assert 0.5 < np.ptp(fake) / np.ptp(real) < 1.5, (fake, real)
        assert np.abs(np.diff(x[last])).mean() < 2 * moves


def _toggling_room(days: int, jitter: float, seed: int) -> list[int]:
    """A steady room's temperature in 1/10 degC every 10 minutes, read half-way between two
    grid values: the sensor toggles between them, the more often the more it jitters."""
    rng = np.random.default_rng(seed)
    n = days * 144
    return np.round((20.05 + rng.normal(0, jitter, n)) * 10).astype(int).tolist()


def test_a_calmer_room_calms_its_fakes_and_they_still_toggle(home, tmp_path):
    """A room fitted while its sensor jittered, then calm: fakes move about as little as the
    real sensor does now (their pace is fed back from how much they move against it), and
    they do so as the sensor does, by toggling between two values less often, not by
    creeping away (a slower pace skips ticks instead of shrinking steps)."""
    now = _toggling_room(28, jitter=0.02, seed=2)
    _profile, tracks = _fit_then_replay(
        home, tmp_path / "b", "hall", "T_hall", _toggling_room(14, jitter=0.08, seed=1), now
    )
    last = slice(-14 * 144, None)  # the last two weeks

    def pattern(x):
        """Mean |step| and the share of steps that undo the step before (a toggle)."""
        d = np.diff(np.asarray(x)[last])
        nz = d[d != 0]
        return np.abs(d).mean(), np.mean(nz[1:] * nz[:-1] < 0)

    moves, toggles = pattern(np.array(now) / 10)
    assert toggles > 0.9  # the room as built: nearly every move is undone
    found = [pattern(x) for x in tracks[:, :, 0]]  # the real readings are on one track some
    for m, _t in found:  # days: all four judged
        assert 0.6 < m / moves < 1.5, (m, moves)
    # a walk that forgot which way it last moved undoes half its moves, a creep fewer
    assert np.mean([t for _m, t in found]) > 2 / 3, found


def test_fakes_meet_the_real_room_at_the_redeal_without_a_climb(home, tmp_path):
    """Before each 04:00 re-deal every fake must meet the real reading. A fake degrees off
    the room is drawn back over the day at about half a usual step a tick, so that in the
    hours before the re-deal fakes move as they do the rest of the day; the bridge alone
    (`reach` 0, the walk drawn only in its last hours) made them climb there in a straight
    line, as steep as several usual steps a tick, plain in a plot."""
    fitted, now = _room_days(14, swing=2.0, seed=5), _room_days(21, swing=2.0, seed=6)

    def before_redeal(folder, drop_reach):
        t0 = 1_700_000_000 - 1_700_000_000 % 86400
        ch = Channel("T_living", 1, 0, 400)
        times = [t0 + 600 * i for i in range(len(fitted))]
        profile = fit_series(dataset.Series(times, [ch], [[v] for v in fitted]))
        if drop_reach:
            del profile["channels"]["T_living"]["reach"]
        start = times[-1] + 600
        replay = dataset.Series(
            [start + 600 * i for i in range(len(now))], [ch], [[v] for v in now]
        )
        run_firmware(home, folder, replay, device=folder.name, profile=profile)
        tracks, _ = _tracks((folder / "feed.jsonl").read_bytes().splitlines(), 4)
        hour = (np.arange(1, len(now)) * 600 + start) % 86400 / 3600
        late = (hour >= 1) & (hour < 4)  # the three hours before a re-deal
        steps = np.abs(np.diff(tracks[:, :, 0], axis=1))
        real = np.abs(np.diff(np.array(now) / 10))
        return steps[:, late].mean() / real[late].mean()

    bridged = before_redeal(tmp_path / "bridged", drop_reach=True)
    drawn = before_redeal(tmp_path / "drawn", drop_reach=False)
    assert drawn < 1.35, (drawn, bridged)  # 1.15-1.18 over three keys; bridged 1.46-1.63
    assert drawn < bridged, (drawn, bridged)


def test_heights_tied_at_dark_leave_their_classes_to_the_bright_ones():
    """Most readings of a dark room are 0, so the quantile edges coincide there; the classes
    they lose go to the lit heights (on robod one class had spanned 118 to 2,016 lux). A
    mock-free unit test of the rule: 60 % dark, the rest spread over 100-499 lux."""
    y = np.r_[np.zeros(600), np.arange(100, 500)].astype(int)
    edges = height_edges(y, 6)
    assert len(edges) == 5 and edges == sorted(set(edges))
    lit = y[y > 0]
    top = np.mean(lit > edges[-1])
    assert top <= 0.25, (edges, top)  # quantile edges alone left 0.42 of the lit readings there
    assert height_edges(np.arange(600), 6) == [100, 200, 300, 399, 499]  # no ties: as before
