"""Decoy profiles: what a board needs to make fakes that look like this home, learned from the
owner's own real readings (`veil profile fit`): a few KB of JSON per channel.

    {"veil_profile": 2, "tz_offset_s": 0, "period_s": 30, "bridge_s": 1800..21600,
     "occupancy": {"slot_s": 300,
                   "days": [4 x u16],           # P(empty day) by day type, previous day
                   "start": [4 x u16],          # state at 04:00 by day type (cumulative)
                   "trans": [2*24*3*2 x u16]},  # [day type][hour][from state] -> cumulative
     "channels": {"<name>": {
         "kind": "co2", "dec": 0,
         "grid": [period, [offsets]],           # the sensor's value grid, as integers n
         "range": [lo, hi],                     # values the fakes keep to
         "floor": [hours, shift],               # the shared floor (veil.privacy.walk)
         "y": [lo, hi],                         # heights above the floor walks keep to
         "edges": [...], "big": n, "phi": x256, # height classes, big steps, momentum
         "bands": n, "snap": n,                 # hour bands; gaps closed at once before a re-deal
         "start": [3 * bands * 8],              # typical heights per state and band
         "pace": shift,                         # climate: fakes move as much as the real
         "follow": n, "day": [24],              # climate: the real day's curve followed (a
                                                #   day weighs 2**-n), from the history's hours
         "aim": [24],                           # the fakes' own day on the history
         "spend": 1,                            # the curve's move spent on toggles (optional)
         "scale": x256,                         # steps scaled on the history (sim.rehearse)
         "index": b64, "P": b64, "Q": b64,      # context -> row; rows of 24 quantile knots
         "fit": {...}}}}                        # the options the fit chose

States are 0 away, 1 awake, 2 asleep; a day may be empty (away throughout, as on holiday).
How a walk steps is in veil.privacy.walk; firmware/veil/decoy.py and households.py are the
consumers, and the floor and context arithmetic there is mirrored exactly in walk.py.
"""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

import numpy as np

from ..dataset import Series
from ..errors import VeilError
from .walk import CLIMATE, KNOTS, MIN_ROWS, RUNS, SWITCHING, WalkOptions, fit_walk, rows_for

FORMAT = 2
AWAY, AWAKE, ASLEEP = 0, 1, 2
SLOT_S = 300
ANCHOR_S = 4 * 3600
DAY_S = 86400
NIGHT = range(0, 6)
SLEEP_MAX_S = 12 * 3600  # the longest inactive stretch whose night hours count as sleep (nights)
SMOOTH = 8.0  # pseudo-counts pulled from the parent cell (occupancy tables)
MIN_HISTORY = 100  # readings needed to fit a profile
BRIDGE_S = 1800  # fakes are drawn towards the real readings at least this long before a re-deal
BRIDGE_MAX_S = 6 * 3600  # and at most this long
PUBLIC = ("pressure",)  # kinds the weather service publishes: every track carries the reading
_KIND_HINTS = (
    ("co2", ("co2",)),
    ("pressure", ("press", "baro")),
    ("humidity", ("rh", "hum")),
    ("temperature", ("temp", "tmp")),
    ("light", ("light", "lux", "illum")),
    ("motion", ("pir", "motion", "occup")),
    ("door", ("door", "reed", "contact")),
)


class ProfileError(VeilError):
    """A profile cannot be fitted from the data given, or a profile file is not valid."""


def guess_kind(name: str) -> str:
    """A channel's kind from its name alone (T1, T_out, RH_2, S5_CO2, hall_door...)."""
    low = name.lower()
    if low.startswith("t") and (low[1:].isdigit() or low.startswith("t_")):
        return "temperature"
    for kind, hints in _KIND_HINTS:
        if any(h in low for h in hints):
            return kind
    return "other"


def kind_of(name: str, dec: int, values: Sequence[int | None]) -> str:
    """A channel's kind from its name and, where they disagree, its readings: a channel that
    only ever reads 0 or 1 is a switch (a contact, a flush, an appliance on or off) whatever
    its name says, since a climate walk over two values flips on every step."""
    kind = guess_kind(name)
    if kind in SWITCHING or dec:
        return kind
    seen = {v for v in values if v is not None}
    return "door" if seen and seen <= {0, 1} else kind


@dataclass
class ChannelData:
    """One channel's real readings: integers n (value x 10**dec), None where no reading."""

    name: str
    dec: int
    values: Sequence[int | None]
    kind: str = "other"


def channel_data(name: str, dec: int, values: list[int | None]) -> ChannelData:
    """A channel's readings with the kind its name and readings give (kind_of)."""
    return ChannelData(name, dec, values, kind_of(name, dec, values))


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


PRIOR_DAYS = 2.0  # days of the shipped home rhythm a fitted occupancy model starts from


def probabilities(cumulative: list[int], cells: int) -> np.ndarray:
    """Cumulative u16 thresholds of 3 outcomes (2 per cell) back to probabilities."""
    c = np.asarray(cumulative, dtype=float).reshape(cells, 2) / 65536
    return np.stack([c[:, 0], c[:, 1] - c[:, 0], 1 - c[:, 1]], axis=1)


def fit_occupancy(
    times: np.ndarray, states: np.ndarray, tz: int = 0, rhythm: dict | None = None
) -> dict:
    """The latent occupancy model from per-reading states: empty days (a two-state chain over
    days), then hour-of-day x day-type transitions at SLOT_S resolution on the other days,
    smoothed over neighbouring hours and towards the day type's overall rates. With a `rhythm`
    model (the shipped home rhythm), a day type's tables start from PRIOR_DAYS days of it,
    fading as the home's own lived days of that type come in (PRIOR_DAYS / (1 + days)): a
    short history (no night, no weekend yet) still gives households a plausible day, and a
    long one is the home's own. A prior that did not fade made a flat's fake households home
    at noon on weekdays 3-5 times as often as its people were, after 20 weekdays of history
    (bench/bench_states.py: rare moves such as coming home at noon are the ones a few
    pseudo-days of another home's rhythm outweigh)."""
    day = household_day(times, tz)
    days = np.unique(day)
    empty = {int(d): bool(np.all(states[day == d] == AWAY)) for d in days}
    dcount = np.ones((2, 2, 2))  # [day type][previous empty][empty], a uniform prior
    if rhythm is not None:
        p_empty = np.asarray(rhythm["days"], dtype=float).reshape(2, 2) / 65536
        dcount = PRIOR_DAYS * np.stack([1 - p_empty, p_empty], axis=2)
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
    kind = daytype(times, tz)
    lived_days = [len(np.unique(day[lived & (kind == w)])) for w in (0, 1)]
    prior_days = PRIOR_DAYS / (1 + np.asarray(lived_days, dtype=float))
    counts = np.zeros((2, 24, 3, 3))
    consecutive = s_slot[1:] == s_slot[:-1] + 1
    for n in np.flatnonzero(consecutive):
        counts[dt[n + 1], hr[n + 1], s_state[n], s_state[n + 1]] += 1
    kernel = {-2: 0.25, -1: 0.5, 0: 1.0, 1: 0.5, 2: 0.25}  # neighbouring hours behave alike
    counts = sum(w * np.roll(counts, -d, axis=1) for d, w in kernel.items())
    if rhythm is not None:  # prior_days of the rhythm's transitions, one slot an hour each
        p = probabilities(rhythm["trans"], 2 * 24 * 3).reshape(2, 24, 3, 3)
        per_day = 3600 / SLOT_S * sum(kernel.values())
        counts = counts + prior_days[:, None, None, None] * per_day * p
    seen = np.isin(np.arange(3), states).astype(float)  # a state never seen is never entered
    if rhythm is not None:
        seen[:] = 1.0
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
    p_start = probabilities(rhythm["start"], 2) if rhythm is not None else np.zeros((2, 3))
    for d in range(2):
        at = s_state[anchors & (dt == d)]
        n = np.bincount(at.astype(int), minlength=3) + 0.5
        start += _cumulative((n + prior_days[d] * 3600 / SLOT_S * p_start[d]) * seen)
    return {"slot_s": SLOT_S, "days": days_table, "start": start, "trans": trans}


def infer_states(times: np.ndarray, channels: list[ChannelData], tz: int = 0) -> np.ndarray | None:
    """Latent states from the readings when no occupancy labels exist: active where motion,
    switched light, rising CO2 or a contact that moved show people; inactive nights between
    activity become asleep (`nights`), other inactive hours away. None if no channel tells
    occupancy."""
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
        elif ch.kind == "door":  # a contact (door, cupboard, appliance) moved in 15 minutes
            x = np.nan_to_num(v)
            sig = _smooth((np.diff(x, prepend=x[:1]) != 0).astype(float), times, 900) > 0
        else:
            continue
        active = sig if active is None else active | sig
    if active is None:
        return None
    return nights(times, _smooth(active.astype(float), times, 900) > 0.2, tz)


def nights(times: np.ndarray, active: np.ndarray, tz: int = 0) -> np.ndarray:
    """AWAKE where active. An inactive stretch that takes in night hours and lasts at most
    SLEEP_MAX_S from the activity before it to the activity after is a night's sleep: its
    night hours are ASLEEP. Any other inactive reading is AWAY: an office dark from 19:00 to
    11:00, or a home over a weekend away, is empty, not asleep (counting such nights as sleep
    made every day of an office lived, and its fake households slept in it)."""
    states = np.where(active, AWAKE, AWAY)
    night = np.isin(hour_of(times, tz), list(NIGHT))
    change = np.flatnonzero(np.diff(active.astype(np.int8))) + 1
    bounds = np.r_[0, change, len(active)]
    for a, b in pairwise(bounds):
        if active[a]:
            continue
        since = times[a - 1] if a > 0 else times[a]
        until = times[b] if b < len(times) else times[b - 1]
        if until - since <= SLEEP_MAX_S:
            states[a:b][night[a:b]] = ASLEEP
    return states


def _smooth(x: np.ndarray, times: np.ndarray, window_s: int) -> np.ndarray:
    """Mean of x over the readings within window_s seconds before each reading."""
    c = np.r_[0, np.cumsum(x)]
    start = np.searchsorted(times, times - window_s, side="left")
    n = np.arange(1, len(x) + 1)
    return (c[n] - c[start]) / np.maximum(n - start, 1)


# ---------------------------------------------------------------- channel model


def shared_model(kind: str, dec: int) -> dict:
    """A channel every track publishes as read: public anyway, so fakes could only differ from
    what a weather station shows."""
    return {"kind": kind, "dec": dec, "shared": True}


def fit_channel(
    ch: ChannelData,
    times: np.ndarray,
    states: np.ndarray,
    period_s: float,
    tz: int = 0,
    opts: WalkOptions | None = None,
    rows: int = MIN_ROWS,
) -> dict:
    """Fit one channel's model: its value grid, its range, and its walk (veil.privacy.walk)
    with at most `rows` quantile rows."""
    ok = np.array([x is not None for x in ch.values])
    if ch.kind in PUBLIC:
        return shared_model(ch.kind, ch.dec)
    if ok.sum() < 50:
        raise ProfileError(f"channel {ch.name}: {ok.sum()} readings, need at least 50 to fit")
    raw = np.array([0 if x is None else x for x in ch.values], dtype=np.int64)
    fill = np.maximum.accumulate(np.where(ok, np.arange(len(raw)), 0))
    raw = raw[fill]  # a missing reading repeats the one before
    period, offsets = fit_grid(raw[ok])
    idx = grid_index(raw, period, offsets)
    model = fit_walk(
        idx,
        ok,
        times,
        states,
        kind=ch.kind,
        period_s=period_s,
        tz=tz,
        opts=opts or WalkOptions(),
        rows=rows,
    )
    return {
        "kind": ch.kind,
        "dec": ch.dec,
        "grid": [period, offsets],
        "range": value_range(ch.kind, ch.dec, int(raw[ok].min()), int(raw[ok].max())),
        **model,
    }


def value_range(kind: str, dec: int, lo: int, hi: int) -> list[int]:
    """The values fakes keep to, from the history's: a quarter beyond what was seen above it
    (slow signals drift), below it only for the climate (a CO2 sensor never reads below the
    outdoor air, a light sensor below dark); a climate sensor a whole span either way, as a
    spring room may sit wholly above the winter it was fitted on (its walks keep their
    heights above the floor, which follows the real sensor: the range only stops a runaway);
    humidity within 0-100 %."""
    span = hi - lo
    if kind in CLIMATE:
        lo, hi = lo - span, hi + span
    elif kind not in SWITCHING:
        hi += span // 4
    if kind == "humidity":
        lo, hi = max(lo, 0), min(hi, 100 * 10**dec)
    return [lo, hi]


def fit_profile(
    times: Sequence[int],
    channels: list[ChannelData],
    *,
    states: Sequence[int] | None = None,
    occupancy: dict | None = None,
    tz_offset_s: int = 0,
    options: dict[str, WalkOptions] | None = None,
) -> dict:
    """A profile for a device from its real readings. The latent states come from `states`
    (labels), else are inferred from the readings; the occupancy model is fitted from them
    unless `occupancy` (e.g. the home's shared model) is given, and is the shipped default
    when neither tells occupancy. `options` gives a channel's walk options (veil.privacy.walk;
    `veil profile fit` chooses them against held-back history), else the defaults."""
    t = np.asarray(times, dtype=np.int64)
    if len(t) < MIN_HISTORY:
        raise ProfileError(f"{len(t)} readings; a profile needs at least {MIN_HISTORY}")
    period_s = float(np.median(np.diff(t)))
    st = np.asarray(states) if states is not None else infer_states(t, channels, tz_offset_s)
    if st is None and occupancy is None:  # nothing here tells occupancy: a home's usual rhythm
        occupancy = default_occupancy()
    if st is None:
        st = np.full(len(t), AWAKE)
    rows = rows_for(sum(c.kind not in PUBLIC for c in channels))
    models = {
        c.name: fit_channel(c, t, st, period_s, tz_offset_s, (options or {}).get(c.name), rows)
        for c in channels
    }
    meet = max((m.pop("meet", 0) for m in models.values()), default=0)
    return {
        "veil_profile": FORMAT,
        "tz_offset_s": tz_offset_s,
        "period_s": period_s,
        "bridge_s": bridge_seconds(meet, period_s),
        "occupancy": occupancy or fit_occupancy(t, st, tz_offset_s, default_occupancy()),
        "channels": models,
    }


def bridge_seconds(ticks: int, period_s: float) -> int:
    """How long before a re-deal the fakes are drawn towards the real readings: long enough
    for `ticks` of the slowest channel's usual steps (a 10-minute room sensor whose nights
    differ by degrees needs hours; closing that in 30 minutes showed as a cliff on every fake
    track at 04:00), at least BRIDGE_S and at most BRIDGE_MAX_S."""
    return int(min(max(ticks * period_s, BRIDGE_S), BRIDGE_MAX_S))


def fit_series(series: Series, states: Sequence[int] | None = None, **kw) -> dict:
    """A profile from a replayable data set, channel kinds guessed from their names."""
    chans = [
        channel_data(c.name, c.dec, [row[i] for row in series.rows])
        for i, c in enumerate(series.channels)
    ]
    return fit_profile(series.times, chans, states=states, **kw)


def fit_home(
    readings: Sequence,
    specs: dict,
    *,
    label_times: np.ndarray | None = None,
    labels: np.ndarray | None = None,
    tz_offset_s: int | None = None,
    options: dict[str, WalkOptions] | None = None,
) -> dict[str, dict]:
    """Profiles for every device of a home from its decoded real readings (veil.owner.decode
    Reading objects; stand-ins are left out). All share one occupancy model, so that fake
    household j tells one story on every device: fitted from occupancy labels (times and a
    count of people, 0 for empty; people in at night are asleep) when given, else from the
    device whose readings tell occupancy best (motion, light, CO2), else the shipped default.
    `options` gives a device's walk options (for all its channels). The local time is the
    home's (its devices' `tz`) unless `tz_offset_s` says otherwise."""
    if tz_offset_s is None:
        tz_offset_s = next((s.tz for s in specs.values()), 0)
    series: dict[str, tuple[np.ndarray, list[ChannelData]]] = {}
    for dev, spec in specs.items():
        mine = sorted((r for r in readings if r.dev == dev), key=lambda r: r.ts)
        if not mine:
            continue
        t = np.array([r.ts for r in mine], dtype=np.int64)
        chans = [
            channel_data(c.name, c.dec, [None if r.mask >> i & 1 else r.values[i] for r in mine])
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
        src[(src == AWAKE) & np.isin(hour_of(src_t, tz_offset_s), list(NIGHT))] = ASLEEP
    else:
        src_t, src = home_states(series, tz_offset_s)
    if src is None:
        occupancy = default_occupancy()
        states = {dev: np.full(len(t), AWAKE) for dev, (t, _c) in series.items()}
    else:
        occupancy = fit_occupancy(src_t, src, tz_offset_s, default_occupancy())
        states = {dev: at(t, src_t, src) for dev, (t, _c) in series.items()}
    chosen = options or {}
    return {
        dev: fit_profile(
            t,
            chans,
            states=states[dev],
            occupancy=occupancy,
            tz_offset_s=tz_offset_s,
            options={c.name: chosen[dev] for c in chans} if dev in chosen else None,
        )
        for dev, (t, chans) in series.items()
    }


def home_states(
    series: dict[str, tuple[np.ndarray, list[ChannelData]]], tz: int = 0
) -> tuple[np.ndarray | None, np.ndarray | None]:
    """A home's latent states without labels (times, states): inferred from the first device
    with a motion sensor, else a light, else a CO2 sensor, else contacts (the kinds that tell
    occupancy best first), from that kind's channels; (None, None) when no device has one.
    Contacts alone told a flat's people in or out 0.71 of the time (balanced); the shipped
    rhythm it took before was 0.33 off their hourly presence, the inferred model 0.19
    (bench/bench_states.py, kasteren)."""
    for kind in ("motion", "light", "co2", "door"):
        for t, chans in series.values():
            if any(c.kind == kind for c in chans):
                return t, infer_states(t, [c for c in chans if c.kind == kind], tz)
    return None, None


DEFAULTS = Path(__file__).resolve().parent / "profiles" / "defaults.json"


def default_occupancy() -> dict:
    """The shipped home rhythm (tools/make_default_profiles.py): the prior of every fit."""
    return json.loads(DEFAULTS.read_text())["occupancy"]


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
        hours, shift = model["floor"]  # the floor follows every tick: as slowly as recorded
        model["floor"] = [hours, min(16, shift + round(math.log2(model["every"])))]
        channels[c.name] = model
    return {
        "veil_profile": FORMAT,
        "tz_offset_s": spec.tz,
        "period_s": period_s,
        "bridge_s": BRIDGE_S,
        "occupancy": doc["occupancy"],
        "channels": channels,
    }


def for_series(series: Series, spec, occupancy: dict | None = None) -> dict:
    """The decoys for a device replaying `series`: fitted from it when it holds enough history,
    else the default models of its channels' kinds; with the home's shared `occupancy` model
    when it has one."""
    if len(series.times) >= MIN_HISTORY:
        return fit_series(series, occupancy=occupancy, tz_offset_s=spec.tz)
    period = float(np.median(np.diff(series.times))) if len(series.times) > 1 else 30.0
    found = default_profile(spec, period_s=period)
    return {**found, "occupancy": occupancy or found["occupancy"]}


TABLES = ("index", "P", "Q")  # a walk's tables: in decoy.bin on a board, base64 in the home


def board_files(profile: dict, channels: Sequence[str]) -> tuple[bytes, bytes]:
    """profile.json and decoy.bin as a board gets them: the walks' tables, in the order of the
    device's `channels`, go to the binary file (firmware Channel reads them into arrays), so
    that parsing profile.json never holds them as text on the board's heap."""
    doc = json.loads(json.dumps(profile))
    doc.pop("check", None)  # the host's notes, not the board's
    for model in doc["channels"].values():
        if not model.get("shared"):
            model.pop("fit", None)
            rows = len(base64.b64decode(model["P"])) // (2 * KNOTS)
            for key in TABLES:
                del model[key]
            model["rows"] = rows
    tables = bytearray()
    for name in channels:
        model = profile["channels"][name]
        if not model.get("shared"):
            for key in TABLES:
                tables += base64.b64decode(model[key])
    return (json.dumps(doc, separators=(",", ":")) + "\n").encode(), bytes(tables)


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
    if isinstance(doc, dict) and doc.get("veil_profile") == 1:
        raise ProfileError(
            f"{what} was made for an older firmware (decoy profile format 1): refit it with "
            "`veil profile fit` (or give the device a new one with --replace)"
        )
    if not isinstance(doc, dict) or doc.get("veil_profile") != FORMAT:
        raise ProfileError(f"{what} is not a veil profile (format {FORMAT})")
    occ = doc.get("occupancy", {})
    sizes = (len(occ.get("trans", [])), len(occ.get("start", [])), len(occ.get("days", [])))
    if sizes != (2 * 24 * 3 * 2, 4, 4):
        raise ProfileError(f"{what}: occupancy tables have the wrong size")
    for name, ch in doc.get("channels", {}).items():
        if ch.get("shared"):
            continue
        try:
            nctx = 3 * ch["bands"] * (len(ch["edges"]) + 1) * RUNS
            index = base64.b64decode(ch["index"], validate=True)
            rows = len(base64.b64decode(ch["P"], validate=True)) // (2 * KNOTS)
            ok = (
                len(index) == nctx
                and max(index) < rows
                and len(base64.b64decode(ch["Q"], validate=True)) == 2 * KNOTS * rows
                and len(ch["start"]) == 3 * ch["bands"] * 8
                and len(ch["floor"]) == 2
                and ch["floor"][0] >= 1
                and (not ch.get("follow") or len(ch["aim"]) == 24)
                and len(ch.get("day", [0] * 24)) == 24
            )
        except (KeyError, TypeError, ValueError):
            ok = False
        if not ok:
            raise ProfileError(f"{what}: channel {name} tables have the wrong size")
