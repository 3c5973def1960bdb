"""Decoy profiles: what a board needs to make fakes that look like this home, learned from the
owner's own real readings (`veil profile fit`): a few KB of JSON per channel.

    {"veil_profile": 1, "tz_offset_s": 0, "period_s": 30,
     "occupancy": {"slot_s": 300,
                   "days": [4 x u16],           # P(empty day) by day type, previous day
                   "start": [4 x u16],          # state at 04:00 by day type (cumulative)
                   "trans": [2*24*3*2 x u16]},  # [day type][hour][from state] -> cumulative
     "channels": {"<name>": {
         "kind": "co2", "dec": 0,
         "grid": [period, [offsets]],           # the sensor's value grid, as integers n
         "range": [lo, hi],                     # values the fakes keep to
         "base": [up_shift, down_shift],        # the shared low-envelope baseline tracker
         "levels": [edges],                     # on (index - baseline index)
         "local": shift,                        # of each walk's own short-term mean
         "band": [24 x band],                   # hour -> band
         "start": [3 * bands * 8],              # typical (index - baseline) per state, band
         "support": [steps],                    # the steps walks take, in grid units
         "rows": [...],                         # per (state, band, level): flag, jump, weights
         "moves": [...]}}}                      # per ([level], near, last move): factors

States are 0 away, 1 awake, 2 asleep; a day may be empty (away throughout, as on holiday).
A walk's next step is drawn with weights row[k] x moves[k] over the support: the row says
where a walk in this state, hour band and level (height above the home's floor) drifts, the
move factor P(step | near, last move) / P(step) how it goes on from where it sits against its
own last quarter hour (below, at, above) and its last move (down or up by one or more, just
now or before, or none) — a sensor that jitters reverses at once, a smooth one keeps going. A
two-level sensor (motion, door) has move factors per level, P(step | level, ...) / P(step |
level), since its level alone says which way it can step. Where the
history seldom was, a row lets only steps leading back through (flag) and, for a switching
sensor (light, motion, door), jumps to a level typical of the state (`jump`/255 of the time:
at once for lights left on in an empty home, within minutes for lights off with people in).
Weights are bytes. firmware/veil/decoy.py and households.py are the consumers; the baseline
and short-term mean arithmetic here mirrors theirs exactly.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..dataset import Series
from ..errors import VeilError

FORMAT = 1
AWAY, AWAKE, ASLEEP = 0, 1, 2
SLOT_S = 300
ANCHOR_S = 4 * 3600
DAY_S = 86400
NIGHT = range(0, 6)
SMOOTH = 8.0  # pseudo-counts pulled from the parent cell
MAX_STEPS = 16  # distinct steps a channel's walks may take
MIN_HISTORY = 100  # readings needed to fit a profile
MIN_CELL = 20  # readings a (state, band, level) cell needs to get its own step distribution
UP_ONLY, DOWN_ONLY = 2, 1  # a row's flag beyond the levels it knows: only steps leading back
SWITCHING = ("light", "motion", "door")
PUBLIC = ("pressure",)  # kinds the weather service publishes: every track carries the reading
_KIND_HINTS = (
    ("co2", ("co2",)),
    ("pressure", ("press", "baro")),
    ("humidity", ("rh", "hum")),
    ("temperature", ("temp", "t_", "tmp")),
    ("light", ("light", "lux", "illum")),
    ("motion", ("pir", "motion", "occup")),
    ("door", ("door", "reed", "contact")),
)


class ProfileError(VeilError):
    """A profile cannot be fitted from the data given, or a profile file is not valid."""


def guess_kind(name: str) -> str:
    low = name.lower()
    if low.startswith("t") and low[1:].isdigit():
        return "temperature"
    for kind, hints in _KIND_HINTS:
        if any(h in low for h in hints):
            return kind
    return "other"


@dataclass
class ChannelData:
    """One channel's real readings: integers n (value x 10**dec), None where no reading."""

    name: str
    dec: int
    values: Sequence[int | None]
    kind: str = "other"


# ---------------------------------------------------------------- value grid


def fit_grid(values: np.ndarray, max_period: int = 200) -> tuple[int, list[int]]:
    """The sparsest periodic grid holding every value (smallest period on ties). A sensor's
    quantisation repeats across its whole range and leaves most values out; a period must
    repeat at least three times over the data and use at most half its offsets, or the gaps
    are just values the history did not happen to visit."""
    v = np.unique(values)
    best = (0.5 + 1e-9, 1, [0])
    for p in range(2, min(max_period, int(v[-1] - v[0]) // 3) + 1):
        offs = np.unique(v % p)
        density = len(offs) / p
        if density < best[0] - 1e-12:
            best = (density, p, offs.tolist())
    return best[1], [int(o) for o in best[2]]


def grid_index(values: np.ndarray, period: int, offsets: list[int]) -> np.ndarray:
    offs = np.asarray(offsets)
    q = values // period
    r = values - q * period
    j = np.searchsorted(offs, r, side="right") - 1
    return q * len(offs) + np.maximum(j, 0)


# ---------------------------------------------------------------- baseline


def shifts(period_s: float) -> tuple[int, int]:
    """Shift amounts of the low-envelope tracker: it creeps up over about a day and drops to
    any lower reading at once (shift 0), so real readings never sit below it and a fake below
    it is out of bounds: the floor of the home's signal (outdoor CO2, the coolest the rooms
    get, darkness) that every track shares."""
    up = round(math.log2(max(2.0, DAY_S / max(period_s, 1.0))))
    return max(1, up), 0


def track_base(index: np.ndarray, up: int, down: int) -> np.ndarray:
    """Baseline index after each reading, exactly as firmware Channel.follow() computes it
    (starting at the first reading)."""
    base = int(index[0]) << 8
    out = np.empty(len(index), dtype=np.int64)
    for n, i in enumerate(index.tolist()):
        d = (i << 8) - base
        base += d >> (up if d > 0 else down)
        out[n] = base >> 8
    return out


def local_shift(period_s: float) -> int:
    """Shift of each walk's own short-term mean: about a quarter of an hour."""
    return max(1, round(math.log2(max(2.0, 900 / max(period_s, 1.0)))))


def local_class(index: np.ndarray, shift: int) -> np.ndarray:
    """For the step after each reading: 0 below, 1 at, 2 above the walk's own short-term mean
    (by more than half a grid step), as firmware Decoys computes it. A sensor that jitters
    around a level returns to it; one that drifts does not."""
    loc = int(index[0]) << 8
    out = np.empty(len(index), dtype=np.int64)
    for n, i in enumerate(index.tolist()):
        loc += ((i << 8) - loc) >> shift
        d = (i << 8) - loc
        out[n] = 0 if d < -128 else 2 if d > 128 else 1
    return np.r_[1, out[:-1]]


# ---------------------------------------------------------------- occupancy


def household_day(times: np.ndarray, tz: int = 0) -> np.ndarray:
    """Day number of the household day (it starts at 04:00 local time)."""
    return (times + tz - ANCHOR_S) // DAY_S


def daytype(times: np.ndarray, tz: int = 0) -> np.ndarray:
    """0 weekday, 1 weekend, of the household day."""
    return ((household_day(times, tz) + 3) % 7 >= 5).astype(int)


def hour_of(times: np.ndarray, tz: int = 0) -> np.ndarray:
    return ((times + tz) % DAY_S) // 3600


def _cumulative(p: np.ndarray) -> list[int]:
    """Cumulative thresholds in 0..65535 for the first len(p)-1 outcomes."""
    c = np.cumsum(p / p.sum())[:-1]
    return [int(min(65535, round(x * 65536))) for x in c]


def fit_occupancy(times: np.ndarray, states: np.ndarray, tz: int = 0) -> dict:
    """The latent occupancy model from per-reading states: empty days (a two-state chain over
    days), then hour-of-day x day-type transitions at SLOT_S resolution on the other days,
    smoothed over neighbouring hours and towards the day type's overall rates."""
    day = household_day(times, tz)
    days = np.unique(day)
    empty = {int(d): bool(np.all(states[day == d] == AWAY)) for d in days}
    dcount = np.ones((2, 2, 2))  # [day type][previous empty][empty], a uniform prior
    for d in days:
        if d - 1 in empty:
            wk = int(((d + 3) % 7) >= 5)
            dcount[wk, int(empty[d - 1]), int(empty[d])] += 1
    days_table = [
        int(65536 * dcount[w, p, 1] / dcount[w, p].sum() + 0.5) for w in (0, 1) for p in (0, 1)
    ]

    lived = np.array([not empty[int(d)] for d in day])
    slots = (times + tz) // SLOT_S
    keep = np.r_[True, slots[1:] != slots[:-1]] & lived
    s_slot, s_state = slots[keep], states[keep]
    t_slot = s_slot * SLOT_S - tz
    dt = daytype(t_slot, tz)
    hr = hour_of(t_slot, tz)
    counts = np.zeros((2, 24, 3, 3))
    consecutive = s_slot[1:] == s_slot[:-1] + 1
    for n in np.flatnonzero(consecutive):
        counts[dt[n + 1], hr[n + 1], s_state[n], s_state[n + 1]] += 1
    kernel = {-2: 0.25, -1: 0.5, 0: 1.0, 1: 0.5, 2: 0.25}  # neighbouring hours behave alike
    counts = sum(w * np.roll(counts, -d, axis=1) for d, w in kernel.items())
    seen = np.isin(np.arange(3), states).astype(float)  # a state never seen is never entered
    overall = (counts.sum(axis=(0, 1)) + np.eye(3) * 50 + 0.5) * seen[None, :]
    per_type = counts.sum(axis=1)
    trans = []
    for d in range(2):
        typed = per_type[d] + SMOOTH * overall / overall.sum(axis=1, keepdims=True)
        for h in range(24):
            for s in range(3):
                prior = typed[s] / typed[s].sum()
                trans += _cumulative(counts[d, h, s] + SMOOTH * prior)
    anchors = hr == ANCHOR_S // 3600
    start = []
    for d in range(2):
        at = s_state[anchors & (dt == d)]
        start += _cumulative((np.bincount(at.astype(int), minlength=3) + 0.5) * seen)
    return {"slot_s": SLOT_S, "days": days_table, "start": start, "trans": trans}


def infer_states(times: np.ndarray, channels: list[ChannelData]) -> np.ndarray | None:
    """Latent states from the readings when no occupancy labels exist: active where motion,
    switched light or rising CO2 show people; inactive night hours become asleep, inactive day
    hours away. None if no channel tells occupancy."""
    active = None
    for ch in channels:
        v = np.array([np.nan if x is None else x for x in ch.values], dtype=float)
        if ch.kind == "motion":
            sig = np.nan_to_num(v) > 0
        elif ch.kind == "light":
            floor = np.nanpercentile(v, 20)
            sig = np.nan_to_num(v, nan=floor) > floor + 0.3 * (np.nanpercentile(v, 95) - floor)
        elif ch.kind == "co2":
            d = np.diff(np.nan_to_num(v, nan=np.nanmedian(v)), prepend=v[0])
            sig = _smooth(d, times, 900) > 0
        else:
            continue
        active = sig if active is None else active | sig
    if active is None:
        return None
    active = _smooth(active.astype(float), times, 900) > 0.2
    states = np.where(active, AWAKE, AWAY)
    states[~active & np.isin(hour_of(times), list(NIGHT))] = ASLEEP
    return states


def _smooth(x: np.ndarray, times: np.ndarray, window_s: int) -> np.ndarray:
    """Mean of x over the readings within window_s seconds before each reading."""
    c = np.r_[0, np.cumsum(x)]
    start = np.searchsorted(times, times - window_s, side="left")
    n = np.arange(1, len(x) + 1)
    return (c[n] - c[start]) / np.maximum(n - start, 1)


# ---------------------------------------------------------------- channel model


def _dist(counts: dict[int, float]) -> dict[int, float]:
    total = sum(counts.values())
    return {k: v / total for k, v in counts.items()} if total else {}


def _blend(counts: dict[int, float], prior: dict[int, float]) -> dict[int, float]:
    out = dict(counts)
    for k, p in prior.items():
        out[k] = out.get(k, 0.0) + SMOOTH * p
    return _dist(out)


# the last move: 0 down by 2 or more just now, 1 down by 1 just now, 2 down before, 3 none,
# 4 up before, 5 up by 1 just now, 6 up by 2 or more just now
MOVES = 7
_NONE = 3
_AFTER_STILL = (2, 2, 2, 3, 4, 4, 4)  # what the last move becomes after a tick without one


def move_class(step: int) -> int:
    return 0 if step <= -2 else 1 if step == -1 else 5 if step == 1 else 6


def _last_move(step: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """The class of the last move before each step, as the firmware keeps it (a jittering
    sensor reverses at once, a smooth one keeps going); a gap in the readings forgets it."""
    out = np.full(len(step), _NONE, dtype=int)
    last = _NONE
    for n in range(len(step)):
        if not valid[n]:
            last = _NONE
        out[n] = last
        if valid[n]:
            last = move_class(step[n]) if step[n] else _AFTER_STILL[last]
    return out


def _bytes(weights: list[float]) -> list[int]:
    """Relative weights as 0..255, the largest 255 (only ratios matter within a row)."""
    top = max(weights, default=0.0)
    return [round(255 * w / top) if top > 0 else 0 for w in weights]


def shared_model(kind: str, dec: int) -> dict:
    """A channel every track publishes as read: public anyway, so fakes could only differ from
    what a weather station shows."""
    return {"kind": kind, "dec": dec, "shared": True}


def fit_channel(
    ch: ChannelData, times: np.ndarray, states: np.ndarray, period_s: float, tz: int = 0
) -> dict:
    """Fit one channel's step model on its grid."""
    ok = np.array([x is not None for x in ch.values])
    if ch.kind in PUBLIC:
        return shared_model(ch.kind, ch.dec)
    if ok.sum() < 50:
        raise ProfileError(f"channel {ch.name}: {ok.sum()} readings, need at least 50 to fit")
    raw = np.array([0 if x is None else x for x in ch.values], dtype=np.int64)
    fill = np.maximum.accumulate(np.where(ok, np.arange(len(raw)), 0))
    raw = raw[fill]  # a missing reading repeats the one before, as the baseline sees it
    period, offsets = fit_grid(raw[ok])
    idx = grid_index(raw, period, offsets)
    up, down = shifts(period_s)
    base = track_base(idx, up, down)
    switching = ch.kind in SWITCHING

    band = _bands(ch.kind, hour_of(times, tz)[ok], states[ok])
    dev = idx - np.r_[idx[0], base[:-1]]
    inner = set(np.percentile(dev[ok], [20, 40, 60, 80]).round().astype(int).tolist())
    for s in np.unique(states[ok]):  # and where each state spends its time (lights on, off)
        inner |= set(np.percentile(dev[ok & (states == s)], [50]).round().astype(int).tolist())
    # outer edges: below the lowest and above the highest level seen, fakes are led back
    edges = sorted({int(dev[ok].min()), *inner, int(dev[ok].max()) + 1})
    if ch.kind in ("motion", "door"):
        edges = [1]

    nbands = max(band) + 1
    bands = np.asarray(band)[hour_of(times, tz)]
    gap_ok = np.r_[False, np.diff(times) <= 3 * period_s]
    valid = ok & np.r_[False, ok[:-1]] & gap_ok
    step = np.r_[0, np.diff(idx)]
    level = np.searchsorted(edges, np.r_[0, dev[:-1]], side="right")
    move = _last_move(step, valid)
    lshift = local_shift(period_s)
    local = local_class(idx, lshift)

    def counts(mask) -> dict[int, float]:
        steps, n = np.unique(step[mask], return_counts=True)
        return dict(zip(steps.tolist(), n.astype(float).tolist(), strict=True))

    top = _dist(counts(valid))
    support = sorted(k for k, _ in sorted(top.items(), key=lambda kv: -kv[1])[:MAX_STEPS])
    # how a walk goes on after its last move: P(step | group, near, move) / P(step | group).
    # A two-level sensor (motion, door) gets a group per level: its level alone already says
    # which way the next step can go, and counting that twice would make it flicker.
    groups = [level == lv for lv in range(len(edges) + 1)] if len(edges) == 1 else [valid]
    moves = []
    for group in groups:
        base_dist = _blend(counts(valid & group), top)
        for loc in range(3):
            for c in range(MOVES):
                dist = _blend(counts(valid & group & (local == loc) & (move == c)), base_dist)
                moves += _bytes([dist.get(k, 0.0) / base_dist[k] for k in support])
    switch_on = round(255 * min(1.0, period_s / 600))  # lights go on within ten minutes or so
    rows: list[int] = []
    start: list[int] = []
    nlev = len(edges) + 1
    own_level = np.searchsorted(edges, dev, side="right")
    for s in range(3):
        in_state = states == s
        if (valid & in_state).sum() < MIN_CELL:  # a state the history never had: any state's
            in_state = np.ones(len(states), dtype=bool)
        by_state = _blend(counts(valid & in_state), top)
        for b in range(nbands):
            here = valid & in_state & (bands == b)
            by_band = _blend(counts(here), by_state)
            known = [lv for lv in range(nlev) if (here & (level == lv)).sum() >= MIN_CELL]
            # where fakes begin and where a jump lands: levels this state and band had often
            # enough to know how they move on (else the state's, else any, levels)
            for pick in (np.isin(own_level, known) & (bands == b), np.ones(len(dev), bool)):
                typical = dev[ok & in_state & pick]
                if len(typical) >= MIN_CELL:
                    break
            else:
                typical = dev[ok]
            start += np.percentile(typical, np.arange(1, 16, 2) * 6.25).round().astype(int).tolist()
            for lv in range(nlev):
                near = min(known, key=lambda x: abs(x - lv)) if known else None
                if near is None or (switching and lv > near):
                    rows += [0, 255] + [0] * len(support)  # lights left on go off at once
                    continue
                dist = _blend(counts(here & (level == near)), by_band)
                flag, relevel = 0, 0
                if lv > near:
                    flag = DOWN_ONLY
                elif lv < near:
                    flag = UP_ONLY
                    relevel = switch_on if switching else 0
                rows += [flag, relevel, *_bytes([dist.get(k, 0.0) for k in support])]
    lo, hi = int(raw[ok].min()), int(raw[ok].max())
    if not switching:  # slow signals drift with the seasons beyond what the history saw
        lo, hi = lo - (hi - lo), hi + (hi - lo)
    return {
        "kind": ch.kind,
        "dec": ch.dec,
        "grid": [period, offsets],
        "range": [lo, hi],
        "base": [up, down],
        "levels": edges,
        "local": lshift,
        "band": band,
        "start": start,
        "support": support,
        "rows": rows,
        "moves": moves,
    }


def _bands(kind: str, hours: np.ndarray, states: np.ndarray) -> list[int]:
    """Hour -> band. Light follows the sun: four bands of six hours, or day and night (06-18,
    18-06) when a state has too little history in one of the four, else a single band."""
    if kind != "light":
        return [0] * 24
    for band in ([h // 6 for h in range(24)], [int(6 <= h < 18) for h in range(24)]):
        of = np.asarray(band)[hours]
        if all(
            np.sum((states == s) & (of == b)) >= 10 * MIN_CELL
            for s in np.unique(states)
            for b in range(max(band) + 1)
        ):
            return band
    return [0] * 24


def fit_profile(
    times: Sequence[int],
    channels: list[ChannelData],
    *,
    states: Sequence[int] | None = None,
    occupancy: dict | None = None,
    tz_offset_s: int = 0,
) -> dict:
    """A profile for a device from its real readings. The latent states come from `states`
    (labels), else are inferred from the readings; the occupancy model is fitted from them
    unless `occupancy` (e.g. the home's shared model) is given, and is the shipped default
    when neither tells occupancy."""
    t = np.asarray(times, dtype=np.int64)
    if len(t) < MIN_HISTORY:
        raise ProfileError(f"{len(t)} readings; a profile needs at least {MIN_HISTORY}")
    period_s = float(np.median(np.diff(t)))
    st = np.asarray(states) if states is not None else infer_states(t, channels)
    if st is None and occupancy is None:  # nothing here tells occupancy: a home's usual rhythm
        occupancy = json.loads(DEFAULTS.read_text())["occupancy"]
    if st is None:
        st = np.full(len(t), AWAKE)
    return {
        "veil_profile": FORMAT,
        "tz_offset_s": tz_offset_s,
        "period_s": period_s,
        "occupancy": occupancy or fit_occupancy(t, st, tz_offset_s),
        "channels": {c.name: fit_channel(c, t, st, period_s, tz_offset_s) for c in channels},
    }


def fit_series(series: Series, states: Sequence[int] | None = None, **kw) -> dict:
    """A profile from a replayable data set, channel kinds guessed from their names."""
    chans = [
        ChannelData(c.name, c.dec, [row[i] for row in series.rows], guess_kind(c.name))
        for i, c in enumerate(series.channels)
    ]
    return fit_profile(series.times, chans, states=states, **kw)


def fit_home(
    readings: Sequence,
    specs: dict,
    *,
    label_times: np.ndarray | None = None,
    labels: np.ndarray | None = None,
    tz_offset_s: int = 0,
) -> dict[str, dict]:
    """Profiles for every device of a home from its decoded real readings (veil.owner.decode
    Reading objects; stand-ins are left out). All share one occupancy model, so that fake
    household j tells one story on every device: fitted from occupancy labels (times and a
    count of people, 0 for empty) when given, else from the device whose readings tell
    occupancy best (motion, light, CO2), else the shipped default."""
    series: dict[str, tuple[np.ndarray, list[ChannelData]]] = {}
    for dev, spec in specs.items():
        mine = sorted((r for r in readings if r.dev == dev), key=lambda r: r.ts)
        if not mine:
            continue
        t = np.array([r.ts for r in mine], dtype=np.int64)
        chans = [
            ChannelData(
                c.name,
                c.dec,
                [None if r.mask >> i & 1 else r.values[i] for r in mine],
                guess_kind(c.name),
            )
            for i, c in enumerate(spec.channels)
        ]
        series[dev] = (t, chans)
    if not series:
        raise ProfileError("no real readings of the home's devices to learn from")

    def at(times: np.ndarray, src_t: np.ndarray, src: np.ndarray) -> np.ndarray:
        pos = np.clip(np.searchsorted(src_t, times), 0, len(src) - 1)
        return src[pos]

    if labels is not None:
        src_t = np.asarray(label_times)
        src = np.where(np.asarray(labels) > 0, AWAKE, AWAY)
    else:
        src_t = src = None
        for kind in ("motion", "light", "co2"):
            for t, chans in series.values():
                if src is None and any(c.kind == kind for c in chans):
                    src_t, src = t, infer_states(t, [c for c in chans if c.kind == kind])
    if src is None:
        occupancy = json.loads(DEFAULTS.read_text())["occupancy"]
        states = {dev: np.full(len(t), AWAKE) for dev, (t, _c) in series.items()}
    else:
        occupancy = fit_occupancy(src_t, src, tz_offset_s)
        states = {dev: at(t, src_t, src) for dev, (t, _c) in series.items()}
    return {
        dev: fit_profile(t, chans, states=states[dev], occupancy=occupancy, tz_offset_s=tz_offset_s)
        for dev, (t, chans) in series.items()
    }


DEFAULTS = Path(__file__).resolve().parent / "profiles" / "defaults.json"


def default_profile(spec, kinds: Sequence[str] | None = None, period_s: float = 30) -> dict:
    """A profile from the shipped models of each channel's kind (tools/make_default_profiles.py
    fits them from recorded data), for a device without history of its own yet. A model
    recorded at coarser decimals is carried onto the channel's (its values keep the coarser
    grid); one recorded at a longer period steps only every so many ticks."""
    doc = json.loads(DEFAULTS.read_text())
    channels = {}
    for n, c in enumerate(spec.channels):
        kind = kinds[n] if kinds else guess_kind(c.name)
        if kind in PUBLIC:
            channels[c.name] = shared_model(kind, c.dec)
            continue
        fits = [m for m in doc["models"].values() if m["kind"] == kind and m["dec"] <= c.dec]
        if not fits:
            raise ProfileError(
                f"no default decoy model for channel {c.name} ({kind}, {c.dec} decimals): fit "
                "a profile from recorded readings with `veil profile fit`"
            )
        model = dict(max(fits, key=lambda m: m["dec"]))
        scale = 10 ** (c.dec - model["dec"])
        period, offsets = model["grid"]
        model["grid"] = [period * scale, [o * scale for o in offsets]]
        model["range"] = [x * scale for x in model["range"]]
        model["dec"] = c.dec
        model["every"] = max(1, round(model.pop("period_s") / period_s))
        channels[c.name] = model
    return {
        "veil_profile": FORMAT,
        "tz_offset_s": 0,
        "period_s": period_s,
        "occupancy": doc["occupancy"],
        "channels": channels,
    }


def for_series(series: Series, spec, occupancy: dict | None = None) -> dict:
    """The decoys for a device replaying `series`: fitted from it when it holds enough history,
    else the default models of its channels' kinds; with the home's shared `occupancy` model
    when it has one."""
    if len(series.times) >= MIN_HISTORY:
        return fit_series(series, occupancy=occupancy)
    period = float(np.median(np.diff(series.times))) if len(series.times) > 1 else 30.0
    found = default_profile(spec, period_s=period)
    return {**found, "occupancy": occupancy or found["occupancy"]}


def save(profile: dict, path: str | Path) -> None:
    Path(path).write_text(json.dumps(profile, separators=(",", ":")) + "\n")


def load(path: str | Path) -> dict:
    try:
        doc = json.loads(Path(path).read_text())
    except OSError as e:
        raise ProfileError(f"cannot read profile {path}: {e.strerror}") from None
    except ValueError:
        raise ProfileError(f"{path} is not a JSON profile") from None
    check(doc, str(path))
    return doc


def check(doc: dict, what: str = "profile") -> None:
    """Reject a profile the firmware could not use, with the reason."""
    if not isinstance(doc, dict) or doc.get("veil_profile") != FORMAT:
        raise ProfileError(f"{what} is not a veil profile (format {FORMAT})")
    occ = doc.get("occupancy", {})
    sizes = (len(occ.get("trans", [])), len(occ.get("start", [])), len(occ.get("days", [])))
    if sizes != (2 * 24 * 3 * 2, 4, 4):
        raise ProfileError(f"{what}: occupancy tables have the wrong size")
    for name, ch in doc.get("channels", {}).items():
        if ch.get("shared"):
            continue
        nb = max(ch.get("band", [0])) + 1
        levels = len(ch.get("levels", [])) + 1
        width = len(ch.get("support", [])) + 2
        ok = (
            1 <= width - 2 <= MAX_STEPS
            and len(ch.get("rows", [])) == 3 * nb * levels * width
            and len(ch.get("moves", []))
            in (3 * MOVES * (width - 2), levels * 3 * MOVES * (width - 2))
            and len(ch.get("start", [])) == 3 * nb * 8
        )
        if not ok:
            raise ProfileError(f"{what}: channel {name} tables have the wrong size")
