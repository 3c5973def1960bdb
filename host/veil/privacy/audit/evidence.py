"""Evidence piles up: a small edge per window, added up over a day or over the whole feed,
names the real track. The attacker adds every discriminator's calibrated log-odds per track
(an uninformative attacker's calibrated log-odds are near zero, so it adds little) and names
the track with the most."""

from __future__ import annotations

import numpy as np

from .discriminate import Scores
from .findings import Finding
from .tracks import DeviceTracks, date


def named(evidence: np.ndarray, salt: int) -> int:
    """The index with the most evidence; among equals a random one (seeded by `salt`), so
    that a tie never favours the first track."""
    best = np.flatnonzero(evidence >= evidence.max() - 1e-9 * (1 + abs(evidence.max())))
    return int(best[np.random.default_rng(salt).integers(len(best))])


def day_evidence(dev: DeviceTracks, scores: list[Scores]) -> dict[int, np.ndarray]:
    """Every held-out household day's summed log-odds per track, over all attackers."""
    out: dict[int, np.ndarray] = {}
    for s in scores:
        days = dev.days(s.t0)
        for d in np.unique(days[s.test]):
            at = s.test & (days == d)
            out.setdefault(int(d), np.zeros(dev.k))
            out[int(d)] += s.logodds[:, at].sum(axis=1)
    return out


def pick_per_day(
    devs: dict[str, DeviceTracks], scores: dict[str, list[Scores]]
) -> tuple[float, int, dict]:
    """Share of held-out device-days on which the named track is the real one."""
    hits = trials = 0
    parts = {}
    for name, dev in devs.items():
        ev = day_evidence(dev, scores.get(name, []))
        days = {date(d): named(e, d) == dev.real_of(dev.days() == d) for d, e in sorted(ev.items())}
        parts[name] = {"named": sum(days.values()), "days": len(days), "by_day": days}
        hits += sum(days.values())
        trials += len(days)
    return (hits / trials if trials else float("nan")), trials, parts


def pick_whole_feed(
    devs: dict[str, DeviceTracks], scores: dict[str, list[Scores]], cut: int
) -> tuple[float, int, dict]:
    """Per device, the track with the most evidence over the whole held-out feed, and the
    share of the held-out ticks on which it carries the real readings (all of them or none
    while the real track stays; about 1/k when the roles are re-dealt), averaged."""
    shares = {}
    for name, dev in devs.items():
        mine = scores.get(name, [])
        if not mine:
            continue
        total = sum(s.logodds[:, s.test].sum(axis=1) for s in mine)
        shares[name] = float(np.mean(dev.real[dev.times >= cut] == named(total, cut)))
    if not shares:
        return float("nan"), 0, {}
    return float(np.mean(list(shares.values()))), len(shares), shares


def pick_findings(
    devs: dict[str, DeviceTracks],
    scores: dict[str, list[Scores]],
    cut: int,
    reference: tuple[dict, dict] | None,
) -> list[Finding]:
    """The two pick-real findings, each beside the same attacker on the reference
    disguise."""
    k = next(iter(devs.values())).k
    day, day_n, day_parts = pick_per_day(devs, scores)
    feed, feed_n, feed_parts = pick_whole_feed(devs, scores, cut)
    ref_day = ref_feed = None
    if reference is not None:
        ref_day = pick_per_day(*reference)[0]
        ref_feed = pick_whole_feed(*reference, cut)[0]
    return [
        Finding(
            "pick_day",
            "real track named per day",
            day,
            1 / k + 0.05,
            f"chance 1/k = {1 / k:.2f}; every attacker's evidence over the day",
            day_n,
            ref_day,
            day_parts,
        ),
        Finding(
            "pick_feed",
            "real track named over the whole feed",
            feed,
            1 / k + 0.05,
            "share of the held-out feed on which the track named carries the real readings",
            feed_n,
            ref_feed,
            feed_parts,
        ),
    ]
