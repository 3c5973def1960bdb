"""The attacks of the privacy audit. None of them uses the key; the audit uses it only to
label training data for the attackers (the strongest position an outsider could reach, e.g. by
running veil on labelled homes of its own) and to score the answers.

Every attacker is trained on readings before `cut` and tested on readings after it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import combinations

import numpy as np
from scipy.optimize import linear_sum_assignment
from sklearn.ensemble import HistGradientBoostingClassifier

from ..profile import guess_kind
from .features import bins, clock_features, window_matrix
from .rocket import Rocket
from .tracks import DeviceTracks

DAY = 86400


@dataclass
class Finding:
    """One number of the audit, with its target and whether it is met (None: no target)."""

    name: str
    value: float
    target: float | None = None
    detail: str = ""
    trials: int = 0

    @property
    def met(self) -> bool | None:
        return None if self.target is None else self.value <= self.target


@dataclass
class Windows:
    """Discriminator windows of one device: features per track, first reading times, and the
    series the sequence model reads."""

    dev: DeviceTracks
    feats: np.ndarray  # (k, W, F)
    t0: np.ndarray  # (W,)
    real: np.ndarray  # (W,) the real track of each window (of its first reading)
    series: np.ndarray  # (k, W, 2C, L)
    scores: dict[str, np.ndarray] = field(default_factory=dict)  # attacker -> (k, W) decision


def _gbm(seed: int) -> HistGradientBoostingClassifier:
    return HistGradientBoostingClassifier(
        max_iter=200,
        learning_rate=0.05,
        max_leaf_nodes=15,
        l2_regularization=1.0,
        random_state=seed,
    )


def window_seconds(dev: DeviceTracks) -> int:
    """One hour, or 24 readings when the device reports less often than every 150 s."""
    period = float(np.median(np.diff(dev.times)))
    return int(max(3600, 24 * period))


def make_windows(dev: DeviceTracks) -> Windows:
    groups = bins(dev.times, window_seconds(dev), min_samples=8)
    length = int(np.percentile([len(g) for g in groups], 10))
    groups = [g[:length] for g in groups if len(g) >= length]
    decs = [c.dec for c in dev.spec.channels]
    feats = np.stack([window_matrix(dev.values[t], decs, groups, dev.times) for t in range(dev.k)])
    v = dev.values
    scale = v.reshape(-1, v.shape[-1]).std(axis=0) + 1e-9
    z = (v - v.reshape(-1, v.shape[-1]).mean(axis=0)) / scale
    dz = np.diff(z, axis=1, prepend=z[:, :1])
    both = np.concatenate([z, dz], axis=2)  # (k, T, 2C)
    series = np.stack([[both[t, g].T for g in groups] for t in range(dev.k)])
    t0 = np.array([dev.times[g[0]] for g in groups])
    return Windows(dev, feats, t0, dev.real[[g[0] for g in groups]], series)


def _balanced_accuracy(y: np.ndarray, pred: np.ndarray) -> float:
    return float((np.mean(pred[y == 1] == 1) + np.mean(pred[y == 0] == 0)) / 2)


def discriminative(wins: list[Windows], cut: int, seed: int = 0) -> list[Finding]:
    """Real vs fake windows: a gradient-boosting attacker on window features and a sequence
    model on the raw windows, one pair per device, scored together as |accuracy - 0.5| on
    balanced held-out windows (the TimeGAN discriminative score)."""
    found = []
    for name in ("gradient boosting on window features", "sequence model (random convolutions)"):
        ys, preds = [], []
        for w in wins:
            k = w.dev.k
            train, test = w.t0 < cut, w.t0 >= cut
            if train.sum() < 4 or test.sum() < 2:
                continue
            y = np.zeros((k, len(w.t0)))
            y[w.real, np.arange(len(w.t0))] = 1
            weight = np.where(y == 1, 1.0, 1.0 / (k - 1))
            if name.startswith("gradient"):
                model = _gbm(seed).fit(
                    w.feats[:, train].reshape(-1, w.feats.shape[-1]),
                    y[:, train].ravel(),
                    sample_weight=weight[:, train].ravel(),
                )
                flat = w.feats.reshape(-1, w.feats.shape[-1])
                score = model.decision_function(flat).reshape(k, -1)
            else:
                model = Rocket(w.series.shape[-1], seed).fit(
                    w.series[:, train].reshape(-1, *w.series.shape[2:]),
                    y[:, train].ravel(),
                    weight[:, train].ravel(),
                )
                score = model.decision(w.series.reshape(-1, *w.series.shape[2:])).reshape(k, -1)
            w.scores[name] = score
            ys.append(y[:, test].ravel())
            preds.append((score[:, test] > 0).ravel().astype(int))
        if not ys:
            continue
        bacc = _balanced_accuracy(np.concatenate(ys), np.concatenate(preds))
        found.append(
            Finding(
                f"discriminative score, {name}",
                abs(bacc - 0.5),
                0.05,
                f"held-out balanced accuracy {bacc:.3f}",
                int(sum(len(y) for y in ys)),
            )
        )
    return found


def pick_real(wins: list[Windows], cut: int) -> Finding:
    """Each held-out day, the attacker names the track its discriminators find most real."""
    hits = trials = 0
    for w in wins:
        days = w.t0 // DAY
        for day in np.unique(days[w.t0 >= cut]):
            at = days == day
            total = sum(np.clip(s[:, at], -20, 20).sum(axis=1) for s in w.scores.values())
            hits += int(np.argmax(total) == np.bincount(w.real[at], minlength=w.dev.k).argmax())
            trials += 1
    k = wins[0].dev.k
    return Finding(
        "real track picked per day",
        hits / max(trials, 1),
        1 / k + 0.05,
        f"chance is 1/k = {1 / k:.2f}",
        trials,
    )


def _bin_features(dev: DeviceTracks, seconds: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-bin features of every track: (k, B, F), each bin's id (time // seconds) and its
    real track."""
    groups = bins(dev.times, seconds, min_samples=2)
    decs = [c.dec for c in dev.spec.channels]
    feats = np.stack([window_matrix(dev.values[t], decs, groups, dev.times) for t in range(dev.k)])
    first = [g[0] for g in groups]
    return feats[:, :, 3:], dev.times[first] // seconds, dev.real[first]


def occupancy(
    devs: dict[str, DeviceTracks],
    label_times: np.ndarray,
    labels: np.ndarray,
    cut: int,
    wins: list[Windows],
    seed: int = 0,
) -> list[Finding]:
    """Occupancy per 10-minute bin: the clock alone, an attacker on the undisguised feed (all
    devices' real tracks), and the same attacker on the disguised feed, which must aggregate the
    tracks it cannot tell apart: the best of a learned aggregate of every track's occupancy
    probability and of reading the track its discriminators pick each day."""
    seconds = max(600, int(2 * max(np.median(np.diff(d.times)) for d in devs.values())))
    per = {name: _bin_features(d, seconds) for name, d in devs.items()}
    common = sorted(set.intersection(*(set(ids.tolist()) for _f, ids, _r in per.values())))
    ids = np.array(common)
    t_bin = ids * seconds
    pos = np.clip(np.searchsorted(label_times, t_bin + seconds // 2), 0, len(labels) - 1)
    y = labels[pos].astype(int)
    train, test = t_bin < cut, t_bin >= cut
    if len(np.unique(y[train])) < 2 or test.sum() < 10:
        return [Finding("occupancy attack", float("nan"), None, "labels do not cover both states")]
    clock = np.array([clock_features(int(t)) for t in t_bin])

    def accuracy(x: np.ndarray) -> float:
        model = _gbm(seed).fit(x[train], y[train])
        return float(np.mean(model.predict(x[test]) == y[test]))

    rows = {name: np.searchsorted(ids_, ids) for name, (_f, ids_, _r) in per.items()}
    cols = np.arange(len(ids))
    real_bins = {n: per[n][2][rows[n]] for n in devs}
    real = np.hstack([per[n][0][:, rows[n]][real_bins[n], cols] for n in devs] + [clock])
    acc_clock = accuracy(clock)
    acc_real = accuracy(real)

    probs = []
    picked = []
    scores = {w.dev.spec.device: w for w in wins}
    for name, dev in devs.items():
        feats = per[name][0][:, rows[name]]
        model = _gbm(seed).fit(feats[real_bins[name], cols][train], y[train])
        p = np.stack([model.predict_proba(feats[t])[:, 1] for t in range(dev.k)])
        probs.append(np.sort(p, axis=0).T)
        choice = _daily_choice(scores.get(name), t_bin, dev.k)
        picked.append(feats[choice, np.arange(len(t_bin))])
    acc_vote = accuracy(np.hstack([*probs, clock]))
    acc_pick = accuracy(np.hstack([*picked, clock]))
    disguised = max(acc_vote, acc_pick)
    return [
        Finding("occupancy, clock-only attacker (accuracy)", acc_clock, None, "", int(test.sum())),
        Finding(
            "occupancy, attacker on the undisguised feed",
            acc_real,
            None,
            f"gain over the clock {acc_real - acc_clock:+.3f} (shows the attacker is strong)",
            int(test.sum()),
        ),
        Finding(
            "occupancy, same attacker on the disguised feed",
            disguised,
            acc_clock + 0.03,
            f"learned aggregate of all tracks {acc_vote:.3f}, picked track {acc_pick:.3f}; "
            f"target: clock + 0.03",
            int(test.sum()),
        ),
    ]


def _daily_choice(w: Windows | None, t_bin: np.ndarray, k: int) -> np.ndarray:
    """For every bin, the track the discriminators rank most real over that bin's day."""
    if w is None or not w.scores:
        return np.zeros(len(t_bin), dtype=int)
    days = w.t0 // DAY
    best = {}
    for day in np.unique(days):
        at = days == day
        total = sum(np.clip(s[:, at], -20, 20).sum(axis=1) for s in w.scores.values())
        best[int(day)] = int(np.argmax(total))
    return np.array([best.get(int(t // DAY), 0) for t in t_bin])


def _activity(dev: DeviceTracks, seconds: int, day_ids: np.ndarray):
    """Per track, standardised bin means summed over channels: how the day unfolds."""
    ids = dev.times // seconds
    out = {}
    for day in np.unique(day_ids):
        at = dev.times // DAY == day
        keys, inv = np.unique(ids[at], return_inverse=True)
        sig = np.zeros((dev.k, len(keys)))
        for t in range(dev.k):
            v = dev.values[t][at]
            sums = np.zeros((len(keys), v.shape[1]))
            np.add.at(sums, inv, v)
            means = sums / np.bincount(inv)[:, None]
            z = (means - means.mean(axis=0)) / (means.std(axis=0) + 1e-9)
            sig[t] = z.sum(axis=1)
        out[int(day)] = (keys, sig)
    return out


def linking(devs: dict[str, DeviceTracks], cut: int) -> list[Finding]:
    """Every pair of devices, every held-out day: match tracks across the two devices by the
    correlation of their activity (the best one-to-one matching), then name the most strongly
    correlated pair as the real household. Households are meant to be coherent across a home,
    so matching succeeds often; naming the real one must not."""
    seconds = 600
    acts = {}
    for name, dev in devs.items():
        days = np.unique(dev.times[dev.times >= cut] // DAY)
        acts[name] = _activity(dev, seconds, days)
    matched = pairs = hits = trials = 0
    for a, b in combinations(sorted(devs), 2):
        da, db = devs[a], devs[b]
        for day, (ka, sa) in acts[a].items():
            if day not in acts[b]:
                continue
            kb, sb = acts[b][day]
            common, ia, ib = np.intersect1d(ka, kb, return_indices=True)
            if len(common) < 12:
                continue
            with np.errstate(invalid="ignore", divide="ignore"):  # a flat track has no r
                corr = np.nan_to_num(np.corrcoef(sa[:, ia], sb[:, ib])[: da.k, da.k :])
            _rows, best = linear_sum_assignment(-corr)
            for i in range(da.k):
                matched += int(da.households[i] == db.households[best[i]])
                pairs += 1
            top = max(range(da.k), key=lambda i: corr[i, best[i]])
            ra = da.real_of(da.times // DAY == day)
            hits += int(top == ra and best[top] == db.real_of(db.times // DAY == day))
            trials += 1
    if not trials:
        return [Finding("cross-device linking", float("nan"), None, "needs two devices")]
    k = next(iter(devs.values())).k
    return [
        Finding(
            "cross-device linking names the real household",
            hits / trials,
            1 / k + 0.05,
            f"tracks matched to their own household across devices: {matched / pairs:.2f}",
            trials,
        )
    ]


def covariate(
    devs: dict[str, DeviceTracks], cov_times: np.ndarray, cov: np.ndarray, cut: int
) -> list[Finding]:
    """Correlation of each temperature or humidity track with a public covariate (outdoor
    weather), hour by hour over each held-out day; the attacker names the track that follows
    the covariate most closely."""
    hits = trials = 0
    real_r, fake_r = [], []
    for dev in devs.values():
        chans = [i for i, c in enumerate(dev.spec.channels) if _is_climate(c.name)]
        if not chans:
            continue
        hours = dev.times // 3600
        for day in np.unique(dev.times[dev.times >= cut] // DAY):
            at = dev.times // DAY == day
            keys, inv = np.unique(hours[at], return_inverse=True)
            if len(keys) < 12:
                continue
            pos = np.clip(np.searchsorted(cov_times, keys * 3600 + 1800), 0, len(cov) - 1)
            c = cov[pos]
            for ch in chans:
                r = []
                for t in range(dev.k):
                    sums = np.bincount(inv, weights=dev.values[t][at, ch])
                    m = sums / np.bincount(inv)
                    with np.errstate(invalid="ignore", divide="ignore"):
                        r.append(np.nan_to_num(np.corrcoef(m, c)[0, 1]))
                real = dev.real_of(at)
                hits += int(int(np.argmax(r)) == real)
                trials += 1
                real_r.append(r[real])
                fake_r += [x for t, x in enumerate(r) if t != real]
    if not trials:
        return [Finding("public covariate", float("nan"), None, "no temperature/humidity channel")]
    k = next(iter(devs.values())).k
    return [
        Finding(
            "public covariate names the real track",
            hits / trials,
            1 / k + 0.05,
            f"mean hourly correlation: real {np.mean(real_r):+.2f}, fakes {np.mean(fake_r):+.2f}",
            trials,
        )
    ]


def _is_climate(name: str) -> bool:
    return guess_kind(name) in ("temperature", "humidity")
