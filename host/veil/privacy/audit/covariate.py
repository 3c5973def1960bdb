"""A public covariate (outdoor weather) against every temperature or humidity track: real
rooms follow the weather a little; fakes must follow it as much. Hour by hour over each
held-out household day, the attacker names the track that follows it most closely."""

from __future__ import annotations

import numpy as np

from ..profile import guess_kind
from .evidence import named
from .findings import Finding
from .tracks import DeviceTracks


def _follows(dev: DeviceTracks, cov_times, cov, cut: int):
    """Per held-out day and climate channel: every track's hourly correlation with the
    covariate, and the real track that day."""
    chans = [
        i
        for i, c in enumerate(dev.spec.channels)
        if guess_kind(c.name) in ("temperature", "humidity")
    ]
    hours = dev.times // 3600
    days = dev.days()
    for day in np.unique(days[dev.times >= cut]):
        at = days == day
        keys, inv = np.unique(hours[at], return_inverse=True)
        if len(keys) < 12:
            continue
        pos = np.clip(np.searchsorted(cov_times, keys * 3600 + 1800), 0, len(cov) - 1)
        c = cov[pos]
        real = dev.real_of(at)
        count = np.bincount(inv)
        for ch in chans:
            r = []
            for t in range(dev.k):
                m = np.bincount(inv, weights=dev.values[t][at, ch]) / count
                with np.errstate(invalid="ignore", divide="ignore"):
                    r.append(float(np.nan_to_num(np.corrcoef(m, c)[0, 1])))
            yield r, real


def covariate_findings(
    devs: dict[str, DeviceTracks],
    cov_times: np.ndarray,
    cov: np.ndarray,
    cut: int,
    reference: dict | None = None,
) -> list[Finding]:
    """The share of held-out room-days (per climate channel) on which the track that follows
    the covariate best is the real one, beside the same attacker on the reference."""

    def run(tracks):
        return [x for d in tracks.values() for x in _follows(d, cov_times, cov, cut)]

    def hit(r, real):
        return named(np.array(r), len(r)) == real

    name = "public covariate names the real track"
    found = run(devs)
    if not found:
        return [Finding.skipped("covariate", name, "no temperature or humidity over a day")]
    hits = [hit(r, real) for r, real in found]
    real_r = np.mean([r[real] for r, real in found])
    fake_r = np.mean([x for r, real in found for t, x in enumerate(r) if t != real])
    strength = None
    if reference is not None and (ref := run(reference)):
        strength = float(np.mean([hit(r, real) for r, real in ref]))
    k = next(iter(devs.values())).k
    return [
        Finding(
            "covariate",
            name,
            float(np.mean(hits)),
            1 / k + 0.05,
            f"mean hourly correlation: real {real_r:+.2f}, fakes {fake_r:+.2f}",
            len(hits),
            strength,
            {"real_r": float(real_r), "fake_r": float(fake_r)},
        )
    ]
