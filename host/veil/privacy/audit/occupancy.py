"""Is anyone home? Per 10-minute bin, an attacker with occupancy labels for the training time
guesses the label of every later bin: from the clock alone, from the undisguised feed (every
device's real track: its strength), and from the disguised feed, where it must aggregate
tracks it cannot tell apart.

Each bin's features include the whole household day's levels, since a slow component every
track shares (a home heated down for a holiday) tells the day, not the minute."""

from __future__ import annotations

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier

from .discriminate import one_thread
from .evidence import day_evidence, named
from .features import bins, clock_features, period, window_matrix
from .findings import Finding
from .tracks import DAY_START, DeviceTracks


def _gbm(seed: int) -> HistGradientBoostingClassifier:
    return HistGradientBoostingClassifier(
        max_iter=200,
        learning_rate=0.05,
        max_leaf_nodes=15,
        l2_regularization=1.0,
        random_state=seed,
    )


def _day_levels(dev: DeviceTracks, t: int, day_ids: np.ndarray) -> np.ndarray:
    """(len(day_ids), 4C): mean, std, min and max of each channel of track `t` over each
    bin's household day."""
    days = dev.days()
    out = {}
    for d in np.unique(day_ids):
        v = dev.values[t][days == d]
        out[int(d)] = np.concatenate([v.mean(0), v.std(0), v.min(0), v.max(0)])
    return np.array([out[int(d)] for d in day_ids])


def _bin_features(dev: DeviceTracks, seconds: int):
    """(k, B, F) features of every track per bin, and each bin's id."""
    groups = bins(dev.times, seconds, 2, dev.tz)
    decs = [c.dec for c in dev.spec.channels]
    ids = np.array([(dev.times[g[0]] + dev.tz - DAY_START) // seconds for g in groups])
    day_ids = dev.days(np.array([dev.times[g[0]] for g in groups]))
    feats = np.stack(
        [
            np.hstack(
                [
                    window_matrix(dev.values[t], decs, groups, dev.times, tz=dev.tz)[:, 3:],
                    _day_levels(dev, t, day_ids),
                ]
            )
            for t in range(dev.k)
        ]
    )
    real = np.array([dev.real[g[0]] for g in groups])
    return feats, ids, real


@one_thread
def occupancy_findings(
    devs: dict[str, DeviceTracks],
    label_times: np.ndarray,
    labels: np.ndarray,
    cut: int,
    scores: dict,
    seed: int = 0,
) -> list[Finding]:
    """The clock-only attacker, the attacker on the undisguised feed, and the same attacker
    on the disguised feed: the better of a learned aggregate of every track's occupancy
    probability and of reading the track the discriminators name each day."""
    seconds = max(600, int(2 * max(period(d) for d in devs.values())))
    tz = next(iter(devs.values())).tz
    per = {name: _bin_features(d, seconds) for name, d in devs.items()}
    ids = np.array(sorted(set.intersection(*(set(p[1].tolist()) for p in per.values()))))
    if not len(ids):
        return [_missing("the devices share no time bins")]
    t_bin = ids * seconds + DAY_START - tz
    pos = np.clip(np.searchsorted(label_times, t_bin + seconds // 2), 0, len(labels) - 1)
    y = (labels[pos] > 0).astype(int)
    train, test = t_bin + seconds <= cut, t_bin >= cut
    if len(np.unique(y[train])) < 2 or len(np.unique(y[test])) < 2:
        return [_missing("the labels do not show both states before and after the cut")]
    clock = np.array([clock_features(int(t), tz) for t in t_bin])

    order = np.flatnonzero(train)
    fit, val = order[: int(0.75 * len(order))], order[int(0.75 * len(order)) :]

    def trained(x: np.ndarray, rows: np.ndarray):
        return _gbm(seed).fit(x[rows], y[rows])

    def held_back(x: np.ndarray) -> float:
        return float(np.mean(trained(x, fit).predict(x[val]) == y[val]))

    def accuracy(x: np.ndarray) -> float:
        """Learned before the cut, scored after. The attacker picks its model on what it
        has: if the features do worse than the clock on the last quarter of its training
        time (learned on the rest), it answers from the clock."""
        use = x if len(np.unique(y[fit])) < 2 or held_back(x) >= clock_val else clock
        return float(np.mean(trained(use, train).predict(use[test]) == y[test]))

    def proba(x_real: np.ndarray, tracks: list[np.ndarray]) -> np.ndarray:
        """(B, k) occupancy probability of every track, from a model of the real track:
        out of fold before the cut (so the aggregate learns on honest numbers), else from
        the model learned on all of it."""
        out = np.zeros((len(y), len(tracks)))
        folds = np.array_split(order, 3)
        for held in folds:
            rest = np.setdiff1d(order, held)
            if len(np.unique(y[rest])) < 2:
                continue
            m = trained(x_real, rest)
            for t, x in enumerate(tracks):
                out[held, t] = m.predict_proba(x[held])[:, 1]
        m = trained(x_real, train)
        later = ~train
        for t, x in enumerate(tracks):
            out[later, t] = m.predict_proba(x[later])[:, 1]
        return out

    clock_val = held_back(clock) if len(np.unique(y[fit])) > 1 else 0.0
    rows = {name: np.searchsorted(p[1], ids) for name, p in per.items()}
    cols = np.arange(len(ids))
    real = [per[n][0][per[n][2][rows[n]], rows[n]] for n in devs]
    acc_clock = float(np.mean(trained(clock, train).predict(clock[test]) == y[test]))
    acc_real = accuracy(np.hstack([*real, clock]))
    probs, picked = [], []
    for name, dev in devs.items():
        feats = per[name][0][:, rows[name]]
        mine = per[name][2][rows[name]]
        probs.append(np.sort(proba(feats[mine, cols], list(feats)), axis=1))
        choice = {d: named(e, d) for d, e in day_evidence(dev, scores.get(name, [])).items()}
        pick = np.array([choice.get(int(d), 0) for d in dev.days(t_bin)])
        picked.append(feats[pick, cols])
    acc_vote = accuracy(np.hstack([*probs, clock]))
    acc_pick = accuracy(np.hstack([*picked, clock]))
    n = int(test.sum())
    return [
        Finding(
            "occupancy_clock", "occupancy, clock-only attacker (accuracy)", acc_clock, trials=n
        ),
        Finding(
            "occupancy_raw",
            "occupancy, attacker on the undisguised feed",
            acc_real,
            detail=f"gain over the clock {acc_real - acc_clock:+.3f} (its strength)",
            trials=n,
        ),
        Finding(
            "occupancy",
            "occupancy, same attacker on the disguised feed",
            max(acc_vote, acc_pick),
            acc_clock + 0.03,
            f"learned aggregate of all tracks {acc_vote:.3f}, track named each day "
            f"{acc_pick:.3f}; target: clock + 0.03",
            n,
            acc_real,
            {
                "clock": acc_clock,
                "undisguised": acc_real,
                "aggregate": acc_vote,
                "named_track": acc_pick,
                "bin_seconds": seconds,
                "test_days": len(np.unique(next(iter(devs.values())).days(t_bin[test]))),
            },
        ),
    ]


def _missing(why: str) -> Finding:
    return Finding.skipped("occupancy", "occupancy, same attacker on the disguised feed", why)
