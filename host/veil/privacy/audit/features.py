"""Windows of a track and the features an attacker reads in them, after what separates model
output from real sensor data: levels, the value grid (which last digits occur), repeated
readings, switching steps, tails and autocorrelation of the increments, time of day."""

from __future__ import annotations

import numpy as np

from .tracks import DAY, DAY_START, DeviceTracks

# window lengths that divide a day, so that windows never straddle a household day's start
DAY_DIVISORS = (600, 1800, 3600, 7200, 10800, 14400, 21600, 43200, DAY)


def _autocorr(a: np.ndarray) -> float:
    a = a - a.mean()
    den = float((a * a).sum())
    return float((a[1:] * a[:-1]).sum() / den) if den > 0 else 0.0


def _digits(x: np.ndarray, dec: int) -> np.ndarray:
    """Share of readings per last digit on the channel's decimal grid (the grid's residue)."""
    n = np.round(np.abs(x) * 10**dec).astype(np.int64) % 10
    return np.bincount(n, minlength=10) / len(x)


def channel_features(x: np.ndarray, dec: int) -> list[float]:
    """The gradient-boosting attacker's features of one channel's readings in one window."""
    dx = np.diff(x)
    adx = np.abs(dx)
    moving = adx[adx > 0]
    nz = dx[dx != 0]
    flips = float(np.mean(nz[1:] * nz[:-1] < 0)) if len(nz) > 1 else 0.0
    sd = float(dx.std())
    kurt = float(((dx - dx.mean()) ** 4).mean() / sd**4) if sd > 0 else 0.0
    return [
        float(x.mean()),
        float(x.std()),
        float(x.min()),
        float(x.max()),
        float(np.mean(dx == 0)),
        float(len(np.unique(x)) / len(x)),
        *_digits(x, dec).tolist(),
        float(adx.mean()),
        sd,
        float(adx.max()),
        float(np.mean(adx > 3 * moving.mean())) if len(moving) else 0.0,
        flips,
        _autocorr(dx),
        kurt,
        _autocorr(x),
    ]


def hand_features(x: np.ndarray, dec: int) -> list[float]:
    """The random forest's features of one channel in one window: level (mean, std, min,
    max), net change, increments (mean |Δ|, std, largest |Δ|, share of zero steps, lag-1
    autocorrelation) and the residue on the decimal grid."""
    dx = np.diff(x)
    adx = np.abs(dx)
    return [
        float(x.mean()),
        float(x.std()),
        float(x.min()),
        float(x.max()),
        float(x[-1] - x[0]),
        float(adx.mean()),
        float(dx.std()),
        float(adx.max()),
        float(np.mean(dx == 0)),
        _autocorr(dx),
        *_digits(x, dec).tolist(),
    ]


def clock_features(t0: int, tz: int = 0) -> list[float]:
    """Local time of day (as a circle) and weekend, of a window's first reading."""
    local = t0 + tz
    hour = (local % DAY) / 3600
    weekend = float(((local // DAY) + 3) % 7 >= 5)  # 1970-01-01 was a Thursday
    return [np.sin(2 * np.pi * hour / 24), np.cos(2 * np.pi * hour / 24), weekend]


def bins(times: np.ndarray, seconds: int, min_samples: int, tz: int = 0) -> list[np.ndarray]:
    """Index arrays of consecutive readings in the same `seconds`-long bin of the local
    clock, bins counted from the household day's start (04:00)."""
    ids = (times + tz - DAY_START) // seconds
    cuts = np.flatnonzero(np.diff(ids)) + 1
    return [g for g in np.split(np.arange(len(times)), cuts) if len(g) >= min_samples]


def windows(dev: DeviceTracks, seconds: int, min_samples: int = 6) -> list[np.ndarray]:
    """Windows of `seconds` holding at least `min_samples` readings and half the usual count
    (a window cut short by a gap in the recording says little)."""
    groups = bins(dev.times, seconds, 2, dev.tz)
    if not groups:
        return []
    usual = int(np.median([len(g) for g in groups]))
    return [g for g in groups if len(g) >= max(min_samples, usual // 2)]


def period(dev: DeviceTracks) -> float:
    """The device's usual time between readings, in seconds."""
    return float(np.median(np.diff(dev.times)))


def window_matrix(
    values: np.ndarray,
    decs: list[int],
    groups: list[np.ndarray],
    times,
    *,
    tz=0,
    features=channel_features,
) -> np.ndarray:
    """(len(groups), F) features of one track (values: (T, C)) over the given windows."""
    rows = []
    for g in groups:
        row = clock_features(int(times[g[0]]), tz)
        for c, dec in enumerate(decs):
            row += features(values[g, c], dec)
        rows.append(row)
    return np.asarray(rows, dtype=float)
