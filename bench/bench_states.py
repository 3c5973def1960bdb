"""How well a home's occupancy is learned without labels, on every labelled data set.

    python bench/bench_states.py [../shared/data] [--only SET]...

An owner without occupancy labels gets fake households whose days come from states inferred
from the readings (veil.privacy.profile.home_states: motion, switched light, rising CO2;
inactive nights between activity as sleep). For each set with labels this prints, beside the
same figures for a model fitted from the labels themselves (the reference, in the same run):

- in: balanced accuracy of "someone in" (awake or asleep) inferred against the labels;
- empty days: household days (04:00 to 04:00) the labels show empty, and how many of them
  the inference finds empty, against how many it calls empty in all;
- hourly: the fitted model's chance that a household is in, by day type and hour, against
  the labels' share of readings with someone in (mean absolute difference over the cells
  the labels cover). This is what fake households live by; the shipped home rhythm's, which
  a home takes when nothing tells its occupancy, is printed beside it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from bench_audit import SETS, DataSet, series
from veil.privacy.profile import (
    ANCHOR_S,
    ASLEEP,
    AWAKE,
    AWAY,
    NIGHT,
    channel_data,
    daytype,
    default_occupancy,
    fit_occupancy,
    home_states,
    hour_of,
    household_day,
    probabilities,
)


def labelled_states(t: np.ndarray, occupied: np.ndarray, tz: int) -> np.ndarray:
    """The states `veil profile fit --labels` takes: people in at night are asleep."""
    st = np.where(occupied > 0, AWAKE, AWAY)
    st[(st == AWAKE) & np.isin(hour_of(t, tz), list(NIGHT))] = ASLEEP
    return st


def hourly_in(occ: dict) -> np.ndarray:
    """[day type, hour] chance that a household of model `occ` is in (awake or asleep)."""
    p_empty = np.asarray(occ["days"], dtype=float).reshape(2, 2) / 65536
    trans = probabilities(occ["trans"], 2 * 24 * 3).reshape(2, 24, 3, 3)
    start = probabilities(occ["start"], 2)
    empty = 0.0  # chance the day is empty, iterated over weeks to its weekly cycle
    share = np.zeros(7)
    for n in range(7 * 60):
        d = n % 7  # day 0 a Monday
        w = int(d >= 5)
        empty = empty * p_empty[w, 1] + (1 - empty) * p_empty[w, 0]
        share[d] = empty
    days_empty = np.array([share[:5].mean(), share[5:].mean()])
    per_slot = 3600 // occ["slot_s"]
    out = np.zeros((2, 24))
    for w in (0, 1):
        x = start[w].copy()
        for s in range(24 * per_slot):
            hour = (s * occ["slot_s"] + ANCHOR_S) // 3600 % 24
            x = x @ trans[w, hour]
            out[w, hour] += (1 - x[AWAY]) / per_slot
        out[w] *= 1 - days_empty[w]
    return out


def hourly_error(occ: dict, t: np.ndarray, occupied: np.ndarray, tz: int) -> float:
    """Mean |model's chance of someone in - labels' share| over the (day type, hour) cells
    the labels at `t` cover."""
    model, truth = hourly_in(occ), occupied > 0
    dt, hr = daytype(t, tz), hour_of(t, tz)
    err = [
        abs(model[w, h] - truth[(dt == w) & (hr == h)].mean())
        for w in (0, 1)
        for h in range(24)
        if ((dt == w) & (hr == h)).any()
    ]
    return float(np.mean(err))


def compare(t: np.ndarray, st: np.ndarray, occupied: np.ndarray, tz: int) -> dict:
    """The three figures for states `st` at times `t` against labels `occupied` at `t`."""
    inside, truth = st != AWAY, occupied > 0
    bal = 0.5 * (inside[truth].mean() + (~inside[~truth]).mean())
    day = household_day(t, tz)
    days = np.unique(day)
    lab_empty = {d for d in days if not truth[day == d].any()}
    inf_empty = {d for d in days if not inside[day == d].any()}
    occ = fit_occupancy(t, st, tz, default_occupancy())
    return {
        "in": bal,
        "empty": f"{len(lab_empty & inf_empty)}/{len(lab_empty)} of {len(inf_empty)}",
        "hourly": hourly_error(occ, t, occupied, tz),
    }


def run(ds: DataSet) -> list[tuple[str, dict | None]]:
    chans = {}
    for dev in ds.devices:
        s = series(ds, dev)
        cd = [
            channel_data(c.name, c.dec, [row[i] for row in s.rows])
            for i, c in enumerate(s.channels)
        ]
        chans[dev] = (np.asarray(s.times, dtype=np.int64), cd)
    lt, lv = ds.labels
    src_t, src = home_states(chans, ds.tz)
    rows = [("labels (reference)", compare(lt, labelled_states(lt, lv, ds.tz), lv, ds.tz))]
    shipped = hourly_error(default_occupancy(), lt, lv, ds.tz)
    rows.append(("shipped rhythm (no states)", {"in": None, "empty": "", "hourly": shipped}))
    if src is None:
        rows.append(("inferred", None))
    else:
        at = np.clip(np.searchsorted(lt, src_t), 0, len(lt) - 1)
        rows.append(("inferred", compare(src_t, src, lv[at], ds.tz)))
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("data", type=Path, nargs="?", default=Path("../shared/data"))
    ap.add_argument("--only", choices=sorted(SETS), action="append")
    args = ap.parse_args()
    print("| set | states | in (bal. acc.) | empty days found | hourly in, mean abs diff |")
    print("| --- | --- | ---: | ---: | ---: |")
    for name, loader in SETS.items():
        if args.only and name not in args.only:
            continue
        ds = loader(args.data)
        if ds.labels is None:
            continue
        for what, r in run(ds):
            if r is None:
                print(f"| {name} | {what} | no channel tells occupancy | | |")
            else:
                acc = "" if r["in"] is None else f"{r['in']:.2f}"
                print(f"| {name} | {what} | {acc} | {r['empty']} | {r['hourly']:.3f} |")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
