"""Real against fake, window by window: each attacker learns on one device's windows before
the cut (every track, labelled real or fake by the key) and gives every later window of every
track calibrated log-odds of being real. Those log-odds are both its discriminative score and
the evidence the pick-real attacks add up (evidence.py).

The attackers: a random forest on hand features at several window lengths, a random forest
on how each track stands beside the others in the same window, gradient boosting on a richer
feature set, and a sequence model that reads the order of the readings.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from threadpoolctl import threadpool_limits

from .features import DAY_DIVISORS, channel_features, hand_features, period, window_matrix
from .features import windows as make_windows
from .rocket import Rocket
from .tracks import DeviceTracks

FOREST_LENGTHS = (600, 3600, 6 * 3600, 86400)
MIN_READINGS = 6  # a window shorter than this says too little about increments
MIN_TRAIN, MIN_TEST = 8, 2  # windows per track
CLIP = float(np.log(99))  # no single window may be surer than 99 to 1
FOLDS = 3
FORESTS = ("forest", "relative")


# many small models: on a shared machine, threads only fight over the cores
one_thread = threadpool_limits.wrap(limits=1)


@dataclass(frozen=True)
class Attacker:
    key: str
    name: str
    kind: str  # "forest", "relative", "boosting" or "sequence"
    seconds: int


def _label(seconds: int) -> str:
    return f"{seconds // 3600} h" if seconds >= 3600 else f"{seconds // 60} min"


def attackers(devs: dict[str, DeviceTracks]) -> list[Attacker]:
    """The battery for this feed: forests at every length that holds ~6 readings of the
    slowest device; the relative forest, boosting and the sequence model on 1-hour windows,
    or 24 readings when a device reports less often than every 150 s."""
    slowest = max(period(d) for d in devs.values())
    out = [
        Attacker(f"forest_{s}", f"random forest, {_label(s)} windows", "forest", s)
        for s in FOREST_LENGTHS
        if s >= MIN_READINGS * slowest * 0.9
    ]
    s = next((d for d in DAY_DIVISORS if d >= max(3600, 24 * slowest)), 86400)
    name = f"random forest beside the other tracks, {_label(s)} windows"
    out.append(Attacker("relative", name, "relative", s))
    out.append(Attacker("boosting", f"gradient boosting, {_label(s)} windows", "boosting", s))
    out.append(Attacker("sequence", f"sequence model, {_label(s)} windows", "sequence", s))
    return out


@dataclass
class Scores:
    """One attacker's verdict on one device: per window, its first reading's time, the real
    track, every track's calibrated log-odds of being real, and whether it lies after the
    cut (the attacker was tested on it, not trained)."""

    t0: np.ndarray  # (W,)
    real: np.ndarray  # (W,)
    logodds: np.ndarray  # (k, W)
    test: np.ndarray  # (W,) bool


def _weights(y: np.ndarray, k: int) -> np.ndarray:
    """Real and fake weigh alike: log-odds against even odds, i.e. likelihood ratios."""
    return np.where(y == 1, 1.0, 1.0 / (k - 1))


def _platt(score: np.ndarray, y: np.ndarray, w: np.ndarray):
    """Map a model's raw scores to log-odds, fitted on scores it gave to windows it did not
    learn from (out of bag, or out of fold)."""
    if np.ptp(score) == 0:
        return lambda s: np.zeros_like(s)
    lr = LogisticRegression(C=100.0).fit(score[:, None], y, sample_weight=w)
    a, b = float(lr.coef_[0, 0]), float(lr.intercept_[0])
    return lambda s: np.clip(a * s + b, -CLIP, CLIP)


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.nan_to_num(p, nan=0.5), 1e-3, 1 - 1e-3)
    return np.log(p / (1 - p))


def _folds(n: int) -> list[np.ndarray]:
    """Contiguous blocks of the training windows (in time order), for out-of-fold scores."""
    return [b for b in np.array_split(np.arange(n), FOLDS) if len(b)]


class _Model:
    """fit(x, y, w) then raw(x): scores for windows; `oof` gives out-of-sample training
    scores to calibrate on."""

    def __init__(self, kind: str, seed: int, length: int = 0):
        self.kind, self.seed, self.length = kind, seed, length

    def _new(self):
        if self.kind in FORESTS:
            return RandomForestClassifier(
                200, min_samples_leaf=3, oob_score=True, n_jobs=1, random_state=self.seed
            )
        return HistGradientBoostingClassifier(
            max_iter=200,
            learning_rate=0.05,
            max_leaf_nodes=15,
            l2_regularization=1.0,
            random_state=self.seed,
        )

    def fit(self, x, y, w):
        if self.kind == "sequence":
            self.m = Rocket(self.length, self.seed).fit(x, y, w)
        else:
            self.m = self._new().fit(x, y, sample_weight=w)
        return self

    def raw(self, x):
        if self.kind == "sequence":
            return self.m.decision(x)
        if self.kind in FORESTS:
            return _logit(self.m.predict_proba(x)[:, 1])
        return self.m.decision_function(x)

    def oof(self, x, y, w, order):
        """Training scores from models that did not see them: the forest's out-of-bag
        votes, else contiguous folds of windows (`order`: each sample's window)."""
        if self.kind in FORESTS:
            return _logit(self.m.oob_decision_function_[:, 1])
        out = np.zeros(len(y))
        for block in _folds(int(order.max()) + 1):
            held = np.isin(order, block)
            if held.all() or len(np.unique(y[~held])) < 2:
                continue
            part = _Model(self.kind, self.seed, self.length).fit(x[~held], y[~held], w[~held])
            out[held] = part.raw(x[held])
        return out


def _inputs(att: Attacker, dev: DeviceTracks, groups: list[np.ndarray]) -> np.ndarray:
    """(k, W, ...) what the attacker reads of every track in every window."""
    decs = [c.dec for c in dev.spec.channels]
    if att.kind == "sequence":
        v = dev.values
        flat = v.reshape(-1, v.shape[-1])
        z = (v - flat.mean(axis=0)) / (flat.std(axis=0) + 1e-9)
        both = np.concatenate([z, np.diff(z, axis=1, prepend=z[:, :1])], axis=2)  # (k, T, 2C)
        return np.stack([[both[t, g].T for g in groups] for t in range(dev.k)])
    if att.kind == "relative":
        return _beside(dev, groups)
    feats = hand_features if att.kind == "forest" else channel_features
    return np.stack(
        [
            window_matrix(dev.values[t], decs, groups, dev.times, tz=dev.tz, features=feats)
            for t in range(dev.k)
        ]
    )


def _beside(dev: DeviceTracks, groups: list[np.ndarray]) -> np.ndarray:
    """(k, W, F) how each track stands beside the others in the same window: its hand
    features less their mean over the k tracks, and per channel the share of the window's
    readings on which it is the highest, and the lowest, of the tracks. The level of the day
    swamps a track's own features; a fake that sits a little below the real room all day
    shows beside it (the other attackers read one track at a time)."""
    decs = [c.dec for c in dev.spec.channels]
    own = np.stack(
        [
            window_matrix(dev.values[t], decs, groups, dev.times, features=hand_features)
            for t in range(dev.k)
        ]
    )
    v = dev.values  # (k, T, C)
    srt = np.sort(v, axis=0)
    highest = (v == srt[-1]) & (srt[-1] > srt[-2])  # alone at the top, not tied
    lowest = (v == srt[0]) & (srt[0] < srt[1])
    top = np.stack([highest[:, g].mean(axis=1) for g in groups], axis=1)
    low = np.stack([lowest[:, g].mean(axis=1) for g in groups], axis=1)
    return np.concatenate([own - own.mean(axis=0), top, low], axis=2)


@one_thread
def score(att: Attacker, dev: DeviceTracks, cut: int, seed: int = 0) -> Scores | None:
    """The attacker on one device; None when the feed has too few windows before or after
    the cut for it."""
    groups = make_windows(dev, att.seconds, MIN_READINGS)
    if att.kind == "sequence" and groups:
        length = int(np.percentile([len(g) for g in groups], 10))
        groups = [g[:length] for g in groups if len(g) >= length]
    if not groups:
        return None
    t0 = np.array([dev.times[g[0]] for g in groups])
    t1 = np.array([dev.times[g[-1]] for g in groups])
    train, test = t1 < cut, t0 >= cut
    if train.sum() < MIN_TRAIN or test.sum() < MIN_TEST:
        return None
    k = dev.k
    real = np.array([dev.real[g[0]] for g in groups])
    x = _inputs(att, dev, groups)
    y = np.zeros((k, len(groups)))
    y[real, np.arange(len(groups))] = 1
    w = _weights(y, k)
    order = np.broadcast_to(np.cumsum(train) - 1, y.shape)  # each sample's training window
    xt, yt, wt, ot = (a[:, train].reshape(-1, *a.shape[2:]) for a in (x, y, w, order))
    model = _Model(att.kind, seed, x.shape[-1]).fit(xt, yt, wt)
    calibrate = _platt(model.oof(xt, yt, wt, ot), yt, wt)
    raw = model.raw(x.reshape(-1, *x.shape[2:])).reshape(k, -1)
    return Scores(t0, real, calibrate(raw), test)


def balanced_accuracy(scores: list[Scores]) -> tuple[float, int]:
    """Held-out balanced accuracy of 'real when the log-odds are positive', pooled over
    devices, and how many track-windows it rests on."""
    hit_real, n_real, hit_fake, n_fake = 0, 0, 0, 0
    for s in scores:
        lo = s.logodds[:, s.test]
        is_real = np.zeros(lo.shape, bool)
        is_real[s.real[s.test], np.arange(lo.shape[1])] = True
        hit_real += int((lo[is_real] > 0).sum())
        n_real += int(is_real.sum())
        hit_fake += int((lo[~is_real] <= 0).sum())
        n_fake += int((~is_real).sum())
    if not n_real:
        return float("nan"), 0
    return (hit_real / n_real + hit_fake / n_fake) / 2, n_real + n_fake
