"""Window features an attacker uses to tell a real track from a fake, after what separates
smooth model output from real sensor data: levels, the value grid (which last digits occur),
repeated readings, switching steps, tails and autocorrelation of the increments, time of day."""

from __future__ import annotations

import numpy as np


def _autocorr(a: np.ndarray) -> float:
    a = a - a.mean()
    den = float((a * a).sum())
    return float((a[1:] * a[:-1]).sum() / den) if den > 0 else 0.0


def channel_features(x: np.ndarray, dec: int) -> list[float]:
    """Features of one channel's readings in one window."""
    dx = np.diff(x)
    adx = np.abs(dx)
    moving = adx[adx > 0]
    digits = np.bincount(np.round(np.abs(x) * 10**dec).astype(np.int64) % 10, minlength=10)
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
        *(digits / len(x)).tolist(),
        float(adx.mean()),
        sd,
        float(adx.max()),
        float(np.mean(adx > 3 * moving.mean())) if len(moving) else 0.0,
        flips,
        _autocorr(dx),
        kurt,
        _autocorr(x),
    ]


def clock_features(t0: int) -> list[float]:
    """Time of day (as a circle) and weekend, of a window's first reading (local = UTC here)."""
    hour = (t0 % 86400) / 3600
    weekend = float(((t0 // 86400) + 3) % 7 >= 5)
    return [np.sin(2 * np.pi * hour / 24), np.cos(2 * np.pi * hour / 24), weekend]


def bins(times: np.ndarray, seconds: int, min_samples: int) -> list[np.ndarray]:
    """Index arrays of consecutive readings in the same `seconds`-long bin of the clock."""
    ids = times // seconds
    cuts = np.flatnonzero(np.diff(ids)) + 1
    return [g for g in np.split(np.arange(len(times)), cuts) if len(g) >= min_samples]


def window_matrix(values: np.ndarray, decs: list[int], groups: list[np.ndarray], times):
    """(len(groups), F) features of one track (values: (T, C)) over the given windows."""
    rows = []
    for g in groups:
        row = clock_features(int(times[g[0]]))
        for c, dec in enumerate(decs):
            row += channel_features(values[g, c], dec)
        rows.append(row)
    return np.asarray(rows, dtype=float)
