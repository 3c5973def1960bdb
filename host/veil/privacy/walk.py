"""One channel's decoy model: a shared slow floor and a walk above it, fitted on the home's own
real readings, in the exact integer arithmetic of firmware/veil/decoy.py (its consumer).

A fake walk steps once a tick by `round(phi * last step + innovation)` grid steps, the
innovation drawn from a quantile row chosen by the context (household state, hour band, height
above the floor, how the walk last moved); a climate walk also moves as the real day's curve
(its mean height at each hour, followed over weeks) moves more than the history's. Rows are the
jittered empirical distributions of the real steps in each context, smoothed towards coarser
contexts, stored as 24 knots of the quantile function (probability in 1/65536, value in 1/8
grid steps) and shared between contexts that end up alike.
"""

from __future__ import annotations

import base64
import math
from dataclasses import dataclass
from itertools import product

import numpy as np

DAY_S = 86400
ANCHOR_S = 4 * 3600
FRAC = 8
KNOTS = 24
RUNS = 10
STILL = 4  # run classes from 4 on are stillness (firmware Channel.step); 0-3 are steps
# quantile rows (96 bytes each on the board's heap) a device's walked channels share: what six
# channels of 20 rows took when the heap was measured (docs/boards.md); a channel has 20 to 40
DEVICE_ROWS = 120
MIN_ROWS, MAX_ROWS = 20, 40
MIN_OWN = 20  # steps a context needs at least to get a row of its own
MIN_STATE = 2  # ... but a contact's open or shut, given a row from this many (_tree)
SMOOTH = 10.0  # pseudo-counts from the parent context
SWITCHING = ("light", "motion", "door")
AWAY, ASLEEP = 0, 2
CLIMATE = ("temperature", "humidity")  # kinds whose fakes move as much as the real lately


@dataclass(frozen=True)
class WalkOptions:
    """The knobs `veil profile fit` tunes against the home's held-back history."""

    floor_hours: int = 72  # the floor is the lowest hourly minimum over this many hours
    floor_tau_h: float = 16.0  # and follows it with this time constant
    bands: int = 4  # hour-of-day bands
    levels: int = 6  # height classes above the floor
    ar: bool = True  # steps carry a share of the last step (on top of the run contexts)
    adapt_days: float = 3.0  # climate sensors: how much fakes move follows the real, over days
    curve_days: float = 16.0  # and their day's curve follows the real day's, over weeks
    own_day: bool = False  # and is measured against the fakes' own day (sim.rehearse.calibrate)
    toggles: bool = False  # and its move is spent on the walk's toggles (firmware Channel.step)

    def to_json(self) -> dict:
        return {
            "floor_hours": self.floor_hours,
            "floor_tau_h": self.floor_tau_h,
            "bands": self.bands,
            "levels": self.levels,
            "ar": self.ar,
            "adapt_days": self.adapt_days,
            "curve_days": self.curve_days,
            "own_day": self.own_day,
            "toggles": self.toggles,
        }


def floor_shift(tau_h: float, period_s: float) -> int:
    return max(1, min(16, round(math.log2(max(2.0, tau_h * 3600 / max(period_s, 1.0))))))


def hour_counts(times: np.ndarray, tz: int) -> np.ndarray:
    """The firmware's hour count (household day * 24 + hour of that day) of each time."""
    local = times + tz - ANCHOR_S
    day = local // DAY_S
    return day * 24 + (local - day * DAY_S) // 3600


def local_hours(times: np.ndarray, tz: int) -> np.ndarray:
    return ((times + tz) % DAY_S) // 3600


def day_curve(y: np.ndarray, ok: np.ndarray, hours: np.ndarray) -> np.ndarray:
    """The real readings' mean height above the floor at each local hour (24 values; an hour
    seen too seldom takes the mean of all): the day a climate walk follows."""
    whole = float(y[ok].mean())
    return np.array(
        [
            round(
                float(y[ok & (hours == h)].mean())
                if (ok & (hours == h)).sum() >= MIN_OWN
                else whole
            )
            for h in range(24)
        ],
        dtype=np.int64,
    )


def floor_series(
    index: np.ndarray, ok: np.ndarray, hours: np.ndarray, ring: int, shift: int
) -> np.ndarray:
    """The floor index after each real reading, exactly as firmware Floor.follow computes it
    (a missing reading leaves the floor where it was): it sinks 16 times faster than it rises,
    as a floor must not stay above what the sensor reads."""
    buf = [0] * ring
    filled = 0
    cur = 0
    hour = -1
    b = int(index[np.argmax(ok)]) << 8
    out = np.empty(len(index), dtype=np.int64)
    for n, (i, h, good) in enumerate(zip(index.tolist(), hours.tolist(), ok.tolist(), strict=True)):
        if not good:
            out[n] = b >> 8
            continue
        if h != hour:
            if hour >= 0:
                buf[filled % ring] = cur
                filled += 1
                if filled >= 2 * ring:
                    filled -= ring
            else:
                b = i << 8
            hour = h
            cur = i
        elif i < cur:
            cur = i
        low = min([cur, *buf[: min(filled, ring)]]) << 8
        if low > b:
            b += (low - b + (1 << (shift - 1))) >> shift
        else:
            b += (low - b) >> max(1, shift - 4)
        out[n] = b >> 8
    return out


def rows_for(walked: int) -> int:
    """How many quantile rows each of a device's `walked` channels may have: the device's
    share, at least 20. Twenty left robod's lights no row for the household's state or the
    hour (the context tree spent them on how a light last moved and its height), so fakes lit
    the evenings the real rooms were dark; 30 to 40 rows made the forests and boosting weaker
    on robod and the office, left kasteren where it was and were mixed on the appliances
    house (docs/audit.md, "How many rows"; bench_audit, 2026-12-03)."""
    return max(MIN_ROWS, min(MAX_ROWS, DEVICE_ROWS // max(walked, 1)))


def height_edges(y: np.ndarray, levels: int) -> list[int]:
    """Edges of `levels` height classes at the quantiles of the real heights. Where many
    readings share one height (a dark room reads 0 most of the time) quantiles coincide, and
    the classes lost to them go to the heights above the top edge, at their own quantiles:
    one class spanning a room's whole lamp- and daylight range let fake lights wander in it
    (on robod the top class ran from 118 to 2,016 lux, and fakes sat at 250-280 lux in the
    evenings the real room was dark)."""
    edges = sorted(set(np.percentile(y, np.linspace(0, 100, levels + 1)[1:-1]).round().astype(int)))
    above = y[y > edges[-1]] if edges else y[:0]
    lost = levels - 1 - len(edges)
    if lost > 0 and len(above):
        more = np.percentile(above, np.linspace(0, 100, lost + 2)[1:-1]).round().astype(int)
        edges = sorted(set(edges) | {int(e) for e in more if e < above.max()})
    return [int(e) for e in edges]


def run_classes(step: np.ndarray, valid: np.ndarray, big: int) -> np.ndarray:
    """How the walk last moved before each step, as firmware Channel.step classifies it: a step
    down or up, small or bigger than `big` (0-3), or still for 0-1, 2-5, 6+ ticks since a step
    down (4-6) or up (7-9): a reading that toggles between two values, or creeps one way,
    keeps doing so. A gap in the readings starts afresh, like a walk just begun."""
    out = np.empty(len(step), dtype=np.int64)
    prev = still = up = 0
    for n in range(len(step)):
        if prev:
            out[n] = (0 if -prev > big else 1) if prev < 0 else (3 if prev > big else 2)
        else:
            out[n] = 4 + 3 * up + (0 if still <= 1 else 1 if still <= 5 else 2)
        if valid[n]:
            prev = int(step[n])
            if prev:
                still, up = 0, int(prev > 0)
            else:
                still = min(still + 1, 127)
        else:
            prev = still = up = 0
    return out


def knots(hist: dict[int, float], m: int = KNOTS) -> tuple[list[int], list[int]]:
    """Knots (P in 0..65535, Q in 1/8 grid steps) of the quantile function of a mixture of
    one-grid-step-wide uniforms centred at the keys of `hist`: rounding a draw to whole steps
    gives back the discrete distribution. Simplified to `m` knots by removing, one at a time,
    the knot that changes the function least (in probability and, relative to the typical
    step, in area), so rare steps and long tails survive."""
    cs = np.array(sorted(hist), dtype=np.int64)
    w = np.array([hist[c] for c in cs.tolist()], dtype=float)
    w /= w.sum()
    lo, hi = int(cs[0]) - FRAC // 2, int(cs[-1]) + FRAC // 2
    cells = np.zeros(hi - lo)
    for c, x in zip(cs.tolist(), w.tolist(), strict=True):
        cells[c - FRAC // 2 - lo : c + FRAC // 2 - lo] += x / FRAC
    cdf = np.r_[0.0, np.cumsum(cells)]
    xs = np.arange(lo, hi + 1, dtype=float)
    slope = np.diff(cdf)
    keep = np.r_[True, np.abs(np.diff(slope)) > 1e-12, True]
    p, q = cdf[keep], xs[keep]
    scale = max(float((w * np.abs(cs)).sum()), FRAC)
    while len(p) > m:
        dq = q[2:] - q[:-2]
        along = (q[1:-1] - q[:-2]) / np.where(dq > 0, dq, 1)
        chord = np.where(dq > 0, p[:-2] + (p[2:] - p[:-2]) * along, p[1:-1])
        area = np.abs((p[1:-1] - p[:-2]) * dq - (p[2:] - p[:-2]) * (q[1:-1] - q[:-2])) / 2
        j = int(np.argmin(np.abs(chord - p[1:-1]) + area / scale)) + 1
        p, q = np.delete(p, j), np.delete(q, j)
    pi = np.minimum(np.round(p * 65536), 65535).astype(int).tolist()
    qi = [int(min(max(x, -32768), 32767)) for x in q.tolist()]
    while len(pi) < m:  # pad: the firmware stops at the first knot above the draw
        pi.append(65535)
        qi.append(qi[-1])
    return pi, qi


def _hist(centres: np.ndarray) -> dict[int, float]:
    keys, n = np.unique(centres, return_counts=True)
    return dict(zip(keys.tolist(), n.astype(float).tolist(), strict=True))


def _blend(own: dict[int, float], parent: dict[int, float]) -> dict[int, float]:
    out = dict(own)
    total = sum(parent.values())
    for k, v in parent.items():
        out[k] = out.get(k, 0.0) + SMOOTH * v / total
    return out


@dataclass
class _Leaf:
    """A set of contexts sharing one row: the variables fixed so far and their steps."""

    fixed: dict[int, int]
    at: np.ndarray  # which steps fall in it
    dist: dict[int, float]


def _loglik(centre: np.ndarray, dist: dict[int, float]) -> float:
    keys, n = np.unique(centre, return_counts=True)
    p = np.array([dist.get(k, 1e-9) for k in keys.tolist()]) / sum(dist.values())
    return float((n * np.log(p)).sum())


def _tree(centre, valid, variables, sizes, budget, first, sparse=None):
    """Grow a tree of contexts greedily: split the leaf, on the variable, that raises the
    likelihood of the real steps most per row added, until `budget` rows. A part with fewer
    than MIN_OWN steps keeps its parent's distribution (no row of its own). The variables
    `first` are split before any other, in their order (fit_walk): how the walk last moved,
    the height above the floor (it says which way a sensor can go: a walk comes back from
    where the sensor seldom is, a motion sensor that fired stops) and the household state (it
    is what makes a fake household's story the same on every device of the home). The
    variable `sparse` (a contact's height: open or shut) gives a part a row of its own from
    MIN_STATE steps in its structural split: a washing machine on for two minutes a few times a
    week otherwise shared the off state's row, in which leaving is as rare as arriving, so
    its fakes, once on, stayed on for days. Returns the leaves."""
    root = _Leaf({}, valid, _hist(centre[valid]))
    leaves = [root]

    def split(leaf: _Leaf, var: int, least: int = MIN_OWN) -> tuple[list[_Leaf], float, int]:
        kids, gain, cost = [], 0.0, 0
        for v in range(sizes[var]):
            at = leaf.at & (variables[var] == v)
            own = at.sum() >= least
            dist = _blend(_hist(centre[at]), leaf.dist) if own else leaf.dist
            if own:
                gain += _loglik(centre[at], dist) - _loglik(centre[at], leaf.dist)
                cost += 1
            kids.append(_Leaf({**leaf.fixed, var: v}, at, dist))
        return kids, gain, cost

    def rows(n: int, kids: list[_Leaf]) -> int:
        """Distinct rows once leaf n is split into `kids` (its row may live on in leaves
        that kept their parent's)."""
        return len({id(x.dist) for x in [*leaves[:n], *kids, *leaves[n + 1 :]]})

    for var in first:  # structural splits, wherever the data has them, the best first
        least = MIN_STATE if var == sparse else MIN_OWN
        found = [(leaf, *split(leaf, var, least)) for leaf in leaves]
        for leaf, kids, _gain, cost in sorted(found, key=lambda f: -f[2]):
            n = next(i for i, x in enumerate(leaves) if x is leaf)
            if cost > 1 and rows(n, kids) <= budget:
                leaves[n : n + 1] = kids
    while True:
        best = None
        for n, leaf in enumerate(leaves):
            for var in range(len(variables)):
                if var in leaf.fixed:
                    continue
                kids, gain, cost = split(leaf, var)
                if cost > 1 and gain > 0 and (best is None or gain / cost > best[0]):
                    best = (gain / cost, n, kids, cost)
        if best is None or rows(best[1], best[2]) > budget:
            return leaves
        leaves[best[1] : best[1] + 1] = best[2]


def _rows(leaves, sizes, alias):
    """The firmware's context -> row index (contexts ordered state, band, level, run) and the
    distinct rows, from the leaves of the context tree (whose fifth variable, still or not,
    follows from the run); a state in `alias` takes the rows of the state it names."""
    rows: list[tuple[tuple[int, ...], tuple[int, ...]]] = []
    row_of: dict[int, int] = {}
    index = []
    for ctx in product(*(range(n) for n in sizes)):
        look = (alias.get(ctx[0], ctx[0]), *ctx[1:], int(ctx[3] >= STILL))  # and still or not
        leaf = next(x for x in leaves if all(look[k] == v for k, v in x.fixed.items()))
        if id(leaf.dist) not in row_of:
            row_of[id(leaf.dist)] = len(rows)
            kn = knots(leaf.dist)
            rows.append((tuple(kn[0]), tuple(kn[1])))
        index.append(row_of[id(leaf.dist)])
    return bytes(index), rows


def _b64(a: np.ndarray) -> str:
    return base64.b64encode(a.tobytes()).decode()


def fit_walk(
    index: np.ndarray,
    ok: np.ndarray,
    times: np.ndarray,
    states: np.ndarray,
    *,
    kind: str,
    period_s: float,
    tz: int,
    opts: WalkOptions,
    rows: int = MIN_ROWS,
) -> dict:
    """The walk part of a channel model, from its readings as grid indices (`ok` where there is
    a reading; missing ones hold the last reading before them), with at most `rows` quantile
    rows (`rows_for`)."""
    shift = floor_shift(opts.floor_tau_h, period_s)
    base = floor_series(index, ok, hour_counts(times, tz), opts.floor_hours, shift)
    y = index - base
    step = np.r_[0, np.diff(index)]
    valid = ok & np.r_[False, ok[:-1]] & np.r_[False, np.diff(times) <= 3 * period_s]
    moved = np.abs(step[valid & (step != 0)])
    big = max(1, int(np.median(moved))) if len(moved) else 1
    prev = np.r_[0, step[:-1]] * np.r_[False, valid[:-1]]
    yb = np.r_[y[0], y[:-1]]  # the height before each step
    hours = local_hours(times, tz)
    both = valid & (prev != 0)
    phi = 0.0
    if opts.ar and both.any():
        phi = float((step[both] * prev[both]).sum() / max(float((prev[both] ** 2).sum()), 1.0))
    phi256 = round(min(max(phi, -0.9), 0.95) * 256)
    # a climate walk follows the day's curve (firmware Channel.curve), which on the history
    # is the history's own: it adds no move of its own there
    follow = kind in CLIMATE and opts.adapt_days > 0
    aim = day_curve(y, ok, hours) if follow else np.zeros(24, dtype=np.int64)
    # how fast fakes follow the real readings' mean |step| (firmware Channel.regain): over
    # windows of 256 ticks, each moving the gain 1 / 2**pace of the way
    pace = 0
    if kind in CLIMATE and opts.adapt_days > 0:
        pace = max(1, floor_shift(opts.adapt_days * 24, period_s) - 8)
    # what the quantile rows draw: the step but its momentum (firmware Channel.step)
    centre = step * FRAC - ((phi256 * prev * FRAC) >> 8)

    edges = height_edges(y[ok], opts.levels)
    nlev = len(edges) + 1
    lev = np.searchsorted(np.asarray(edges), yb, side="left")
    runs = run_classes(step, valid, big)
    band = hours * opts.bands // 24

    sizes = (3, opts.bands, nlev, RUNS)
    # besides the firmware's four, the tree may split on whether the walk moved last tick
    # (run classes 0-3) or has been still (4-9): two rows where the run classes take ten
    still = (runs >= STILL).astype(np.int64)
    # a contact's level (open or shut) says most about its next step: an open cupboard
    # closes within minutes however long it was shut, so it is split first; a light's too,
    # then whether it is still: a light still at dark stays dark, one still at 400 lux is
    # sunlit and drifts (split on the ten run classes first, a light's twenty to forty rows
    # went to how it moved before its height reached its still rows: robod's fakes froze at
    # 43 or 408 lux for hours and were dark 5-18 % of the time against the real rooms'
    # 39-59 %, now 13-38 %: bench_audit, one key, 2026-12-03); for motion and climate, how
    # they last moved first fits better (bench_audit on the room and robod sets)
    first = {"door": (2, 3, 0), "light": (2, 4, 0)}.get(kind, (3, 2, 0))
    # a contact's first split, its height, is its state (open or shut), however seldom it is
    # in one (a motion sensor's first is how it last moved: a row from two steps there fitted
    # noise, the office's sequence model 0.19 -> 0.23: bench_audit, one key, 2026-12-03)
    sparse = 2 if kind == "door" else None
    leaves = _tree(
        centre, valid, (states, band, lev, runs, still), (*sizes, 2), rows, first, sparse
    )
    # a household asleep where the history never saw anyone asleep (an office) stays quiet
    quiet = {ASLEEP: AWAY} if (valid & (states == ASLEEP)).sum() < MIN_OWN else {}
    index_bytes, table = _rows(leaves, sizes, quiet)
    p_rows = np.array([r[0] for r in table], dtype="<u2").ravel()
    q_rows = np.array([r[1] for r in table], dtype="<i2").ravel()

    start = []
    for s in range(3):
        for b in range(opts.bands):
            here = ok & (states == s) & (band == b)
            pool = y[here] if here.sum() >= MIN_OWN else y[ok & (states == s)]
            pool = pool if len(pool) >= MIN_OWN else y[ok]
            start += np.percentile(pool, np.arange(1, 16, 2) * 6.25).round().astype(int).tolist()
    ylo, yhi = int(y[ok].min()), int(y[ok].max())
    span = yhi - ylo
    if kind in CLIMATE:  # a season may swing a room wider than its history (the sun)
        ylo, yhi = ylo - span, yhi + span
    elif kind not in SWITCHING:  # slow signals drift beyond what the history saw
        ylo, yhi = ylo - span // 8, yhi + span // 4
    # a day weighs 1 / 2**follow in the curve: about 1 / curve_days (seasons, not a week's
    # weather: each day's own deviation is in the steps already, and following it closely
    # made fakes move 1.5 times as much as the real sensor on its own history)
    days = max(1, round(math.log2(max(2.0, opts.curve_days))))
    curve = {"follow": days, "aim": aim.tolist()} if follow else {}
    if follow and opts.toggles:
        curve["spend"] = 1
    # how many ticks fakes need to meet the real reading before a re-deal without a step
    # bigger than the sensor's usual: the spread of its heights in the hour before 04:00
    # over its mean |step| (profile.fit_profile sets the device's bridge from it)
    night = ok & (hours == ANCHOR_S // 3600 - 1)
    mean_step = float(np.abs(step[valid]).mean()) if valid.any() else 1.0
    spread = float(y[night].std()) if night.sum() > 1 else 0.0
    meet = math.ceil(1.13 * spread / max(mean_step, 1e-3))
    # a climate walk is drawn towards the real reading as soon as its gap needs it (firmware
    # Decoys._pull), from its usual step (x 256, below 2**13: small ints on an ESP32)
    reach = {"reach": min(max(1, round(256 * mean_step)), 8191)} if kind in CLIMATE else {}
    return {
        **reach,
        **curve,
        "floor": [opts.floor_hours, shift],
        "y": [ylo, yhi],
        "clamp": int(kind == "light"),  # a light stops at dark (firmware Channel.step)
        "edges": edges,
        "big": big,
        "phi": phi256,
        "bands": opts.bands,
        "snap": big,
        "pace": pace,
        "start": [int(x) for x in start],
        "index": base64.b64encode(bytes(index_bytes)).decode(),
        "P": _b64(p_rows),
        "Q": _b64(q_rows),
        "fit": opts.to_json(),
        "meet": meet,
    }


def table_bytes(model: dict) -> int:
    """What the walk's tables take on the board's heap, in bytes."""
    return sum(len(base64.b64decode(model[k])) for k in ("index", "P", "Q"))
