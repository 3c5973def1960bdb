"""Decoy profiles: what a board needs to make fakes that look like this home, learned from the
owner's own real readings (`veil profile fit`), a few KB of JSON.

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
         "band": [24 x band],                   # hour -> band
         "start": [3 * bands * 8],              # typical (index - baseline) per state, band
         "cells": [start, end, ...],            # per cell: its slice of dx and cum
         "dx": [steps], "cum": [u16 cumulative]}}}

States are 0 away, 1 awake, 2 asleep; a day may be empty (away throughout, as on holiday). A
cell is (state, band, level, last move: down or up, just now or before, or none); it holds
the distribution of the next step in grid units, smoothed towards coarser cells. Where the
real readings seldom were, a switching sensor (light, motion, door) holds the single step
RELEVEL — jump to a level typical of the state, as lights go off when people leave — and a
slow one (temperature, humidity, CO2) takes the steps of the nearest level it knows, only
those leading back.
Cells with equal distributions share a slice. firmware/veil/decoy.py and households.py are
the consumers; the baseline arithmetic here mirrors theirs exactly.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .dataset import Series
from .errors import VeilError

FORMAT = 1
AWAY, AWAKE, ASLEEP = 0, 1, 2
SLOT_S = 300
ANCHOR_S = 4 * 3600
DAY_S = 86400
NIGHT = range(0, 6)
SMOOTH = 4.0  # pseudo-counts pulled from the parent cell
MAX_STEPS = 16  # distinct steps kept per cell
MIN_HISTORY = 100  # readings needed to fit a profile
MIN_CELL = 10  # readings a (state, band, level) cell needs to get its own step distribution
RELEVEL = -32768  # step meaning "jump to a level typical of the state"
SWITCHING = ("light", "motion", "door")
KINDS = ("temperature", "humidity", "co2", "light", "motion", "door", "pressure", "other")
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
    """The sparsest periodic grid holding every value (smallest period on ties); the period
    must repeat at least three times over the data's range to be believed."""
    v = np.unique(values)
    best = (1.0, 1, [0])
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


def grid_value(index: np.ndarray, period: int, offsets: list[int]) -> np.ndarray:
    m = len(offsets)
    q = index // m
    return q * period + np.asarray(offsets)[index - q * m]


# ---------------------------------------------------------------- baseline


def shifts(period_s: float) -> tuple[int, int]:
    """Shift amounts of the low-envelope tracker: rises over about a day, falls in an hour."""
    per_tick = max(period_s, 1.0)
    up = round(math.log2(max(2.0, DAY_S / per_tick)))
    down = round(math.log2(max(2.0, 3600 / per_tick)))
    return max(1, up), max(1, down)


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
    overall = counts.sum(axis=(0, 1)) + np.eye(3) * 50 + 0.5
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
        start += _cumulative(np.bincount(at.astype(int), minlength=3) + 0.5)
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


MOVES = 5  # last move: 0 down just now, 1 down before, 2 none, 3 up before, 4 up just now


def _last_move(step: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """The class of the last move before each step, as the firmware keeps it (a sensor that
    jitters reverses at once); a gap in the readings forgets it."""
    out = np.full(len(step), 2, dtype=int)
    last = 2
    for n in range(len(step)):
        if not valid[n]:
            last = 2
        out[n] = last
        if valid[n]:
            last = (4 if step[n] > 0 else 0) if step[n] else {0: 1, 4: 3}.get(last, last)
    return out


class _CellWriter:
    """Flattens step distributions into the shared dx/cum arrays, one slice per distinct one."""

    def __init__(self):
        self.cells: list[int] = []
        self.dx: list[int] = []
        self.cum: list[int] = []
        self._shared: dict[tuple, tuple[int, int]] = {}

    def add(self, dist: dict[int, float]) -> None:
        kept = sorted(sorted(dist.items(), key=lambda kv: -kv[1])[:MAX_STEPS])
        steps = [int(k) for k, _ in kept]
        thresholds = _cumulative(np.array([v for _, v in kept] + [0.0]))
        key = (*steps, *thresholds)
        if key not in self._shared:
            self._shared[key] = (len(self.dx), len(self.dx) + len(steps))
            self.dx += steps
            self.cum += thresholds
        self.cells += self._shared[key]


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

    nbands = 4 if ch.kind == "light" else 1
    band = [h * nbands // 24 for h in range(24)]
    dev = idx - np.r_[idx[0], base[:-1]]
    inner = np.percentile(dev[ok], [20, 40, 60, 80]).round().astype(int).tolist()
    # outer edges: below the lowest and above the highest level seen, fakes are led back
    edges = sorted({int(dev[ok].min()), *inner, int(dev[ok].max()) + 1})
    if ch.kind in ("motion", "door"):
        edges = [1]

    bands = np.asarray(band)[hour_of(times, tz)]
    gap_ok = np.r_[False, np.diff(times) <= 3 * period_s]
    valid = ok & np.r_[False, ok[:-1]] & gap_ok
    step = np.r_[0, np.diff(idx)]
    level = np.searchsorted(edges, np.r_[0, dev[:-1]], side="right")
    move = _last_move(step, valid)

    def counts(mask) -> dict[int, float]:
        steps, n = np.unique(step[mask], return_counts=True)
        return dict(zip(steps.tolist(), n.astype(float).tolist(), strict=True))

    start = []
    for s in range(3):
        for b in range(nbands):
            seen = dev[ok & (states == s) & (bands == b)]
            if len(seen) < MIN_CELL:
                seen = dev[ok & (states == s)]
            if len(seen) < MIN_CELL:
                seen = dev[ok]
            start += np.percentile(seen, np.arange(1, 16, 2) * 6.25).round().astype(int).tolist()

    top = _dist(counts(valid))
    out = _CellWriter()
    nlev = len(edges) + 1
    for s in range(3):
        by_state = _blend(counts(valid & (states == s)), top)
        for b in range(nbands):
            here = valid & (states == s) & (bands == b)
            by_band = _blend(counts(here), by_state)
            known = [lv for lv in range(nlev) if (here & (level == lv)).sum() >= MIN_CELL]
            for lv in range(nlev):
                near = min(known, key=lambda x: abs(x - lv)) if known else None
                at = here & (level == (lv if near is None else near))
                by_level = _blend(counts(at), by_band)
                for c in range(MOVES):
                    dist = _blend(counts(at & (move == c)), by_level)
                    if near is None or (switching and near != lv):
                        dist = {RELEVEL: 1.0}
                    elif near != lv:
                        dist = _back(dist, lv - near)
                    out.add(dist)
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
        "band": band,
        "start": start,
        "cells": out.cells,
        "dx": out.dx,
        "cum": out.cum,
    }


def _back(dist: dict[int, float], away: int) -> dict[int, float]:
    """Keep only the steps that lead back towards the known levels (`away` > 0: above them)."""
    kept = {k: p for k, p in dist.items() if (k <= 0 if away > 0 else k >= 0)}
    return _dist(kept) or {(-1 if away > 0 else 1): 1.0}


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
    unless `occupancy` (e.g. the home's shared model) is given."""
    t = np.asarray(times, dtype=np.int64)
    if len(t) < MIN_HISTORY:
        raise ProfileError(f"{len(t)} readings; a profile needs at least {MIN_HISTORY}")
    period_s = float(np.median(np.diff(t)))
    st = np.asarray(states) if states is not None else infer_states(t, channels)
    if st is None and occupancy is None:
        raise ProfileError(
            "no channel shows occupancy (motion, light or CO2): give occupancy labels or "
            "fit the home's occupancy from another device"
        )
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


def for_series(series: Series, spec) -> dict:
    """The decoys for a device replaying `series`: fitted from it when it holds enough history,
    else the default models of its channels' kinds."""
    if len(series.times) >= MIN_HISTORY:
        return fit_series(series)
    period = float(np.median(np.diff(series.times))) if len(series.times) > 1 else 30.0
    return default_profile(spec, period_s=period)


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
        cells = 2 * 3 * nb * (len(ch.get("levels", [])) + 1) * MOVES
        ok = (
            len(ch.get("cells", [])) == cells
            and len(ch.get("dx", [])) == len(ch.get("cum", []))
            and len(ch.get("start", [])) == 3 * nb * 8
        )
        if not ok:
            raise ProfileError(f"{what}: channel {name} tables have the wrong size")
