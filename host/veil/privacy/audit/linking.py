"""Cross-device linking: the devices of one home see one household, so the attacker looks,
each held-out household day, for the tuple of tracks (one per device, all devices at once)
whose activity hangs together best, and names it the real household.

Per pair of devices, correlations between tracks over the day's 10-minute and hourly slots:
of activity (how much the readings move) and of level, each taken as the track's departure from
the mean of its device's tracks (what every track shares, the clock or the weather, tells no
household from another). The attacker learns on the days before the cut how much each
correlation sets a real pair apart (its Fisher weight), and scores a tuple by the weighted
sum over its pairs. Every tuple is scored while there are at most 65,536 (k^D); beyond, a
beam search keeps the best 256 partial tuples device by device."""

from __future__ import annotations

from itertools import combinations, product

import numpy as np

from .evidence import named
from .features import period
from .findings import Finding
from .tracks import DAY_START, DeviceTracks, date

EXHAUSTIVE = 2**16
BEAM = 256
MIN_SLOTS = 6


def _signals(dev: DeviceTracks, seconds: int, day: int):
    """Slot ids of one household day and (2, k, slots): per track, its activity and level
    per slot, each summed over the channels after scaling by the channel's spread, less the
    mean over the device's tracks."""
    at = dev.days() == day
    if at.sum() < 3:
        return None
    ids = (dev.times[at] + dev.tz - DAY_START) // seconds
    keys, inv = np.unique(ids, return_inverse=True)
    v = dev.values[:, at]  # (k, n, C)
    step = np.abs(np.diff(v, axis=1, prepend=v[:, :1]))
    flat_v, flat_s = v.reshape(-1, v.shape[-1]), step.reshape(-1, v.shape[-1])
    v = (v - flat_v.mean(0)) / (flat_v.std(0) + 1e-9)
    step = step / (flat_s.std(0) + 1e-9)
    count = np.bincount(inv, minlength=len(keys))
    sig = np.zeros((2, dev.k, len(keys)))
    for t in range(dev.k):
        sig[0, t] = np.bincount(inv, weights=step[t].sum(1), minlength=len(keys)) / count
        sig[1, t] = np.bincount(inv, weights=v[t].sum(1), minlength=len(keys)) / count
    return keys, sig - sig.mean(axis=1, keepdims=True)


def _corr(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(ka, kb) correlations of the rows of a with the rows of b; 0 where a row is flat."""
    a = a - a.mean(1, keepdims=True)
    b = b - b.mean(1, keepdims=True)
    na, nb = np.linalg.norm(a, axis=1), np.linalg.norm(b, axis=1)
    na[na < 1e-6], nb[nb < 1e-6] = np.inf, np.inf  # flat (up to rounding): no correlation
    return (a @ b.T) / np.outer(na, nb)


def correlations(sig: list) -> dict[tuple[int, int], np.ndarray]:
    """Per pair of devices (by position), (2, k, k): each signal's correlation of their
    tracks over the slots both have."""
    out = {}
    for i, j in combinations(range(len(sig)), 2):
        (ka, sa), (kb, sb) = sig[i], sig[j]
        _common, ia, ib = np.intersect1d(ka, kb, return_indices=True)
        if len(ia) >= MIN_SLOTS:
            out[(i, j)] = np.stack([_corr(sa[s][:, ia], sb[s][:, ib]) for s in range(len(sa))])
    return out


def fisher_weights(days: list[tuple[dict, tuple]]) -> dict[tuple[int, int], np.ndarray]:
    """Per pair of devices, each signal's weight from labelled days ((correlations, real
    tuple)): how far real pairs stand above the others, over the others' variance; nothing
    for a signal that does not set them apart."""
    same: dict = {}
    other: dict = {}
    for corrs, real in days:
        for (i, j), c in corrs.items():
            mask = np.ones(c.shape[1:], bool)
            mask[real[i], real[j]] = False
            same.setdefault((i, j), []).append(c[:, real[i], real[j]])
            other.setdefault((i, j), []).append(c[:, mask])
    out = {}
    for pair in same:
        s, o = np.array(same[pair]), np.concatenate(other[pair], axis=1)
        out[pair] = np.clip(s.mean(0) - o.mean(1), 0, None) / (o.var(1) + 1e-3)
    return out


def best_tuple(
    pairs: dict[tuple[int, int], np.ndarray], sizes: list[int], salt: int = 0
) -> tuple[int, ...]:
    """The tuple of tracks with the highest summed pairwise coherence: every tuple when
    there are few enough (ties broken at random), else a beam search."""
    n = len(sizes)
    if int(np.prod(sizes)) <= EXHAUSTIVE:
        tuples = np.array(list(product(*(range(s) for s in sizes))))
        total = np.zeros(len(tuples))
        for (i, j), c in pairs.items():
            total += c[tuples[:, i], tuples[:, j]]
        return tuple(int(x) for x in tuples[named(total, salt)])
    beam = [((), 0.0)]
    for d in range(n):
        grown = []
        for partial, score in beam:
            for t in range(sizes[d]):
                add = sum(pairs[(i, d)][partial[i], t] for i in range(d) if (i, d) in pairs)
                grown.append(((*partial, t), score + add))
        grown.sort(key=lambda x: -x[1])
        beam = grown[:BEAM]
    return beam[0][0]


def _real_tuple(devs: dict[str, DeviceTracks], names: list[str], day: int) -> tuple:
    return tuple(devs[n].real_of(devs[n].days() == day) for n in names)


def _link(devs: dict[str, DeviceTracks], cut: int):
    """Per held-out day: (tuple named, real tuple, whether the named tracks show one
    household)."""
    names = sorted(devs)
    short = max(600, int(2 * max(period(d) for d in devs.values())))
    days = [set(np.unique(devs[n].days()).tolist()) for n in names]
    last_train = min(int(devs[n].days(np.array([cut]))[0]) for n in names) - 1
    corrs = {}
    for day in sorted(set.intersection(*days)):
        by_slot = []
        for seconds in sorted({short, max(short, 3600)}):
            sig = [_signals(devs[n], seconds, day) for n in names]
            by_slot.append(correlations(sig) if all(x is not None for x in sig) else {})
        pairs = set.intersection(*(set(c) for c in by_slot))
        if pairs:
            corrs[day] = {p: np.concatenate([c[p] for c in by_slot]) for p in pairs}
    weights = fisher_weights(
        [(c, _real_tuple(devs, names, d)) for d, c in corrs.items() if d <= last_train]
    )
    held = [
        set(np.unique(devs[n].days(devs[n].times[devs[n].times >= cut])).tolist()) for n in names
    ]
    out = {}
    for day in sorted(set.intersection(*held) & set(corrs)):
        pairs = {
            p: np.tensordot(weights.get(p, np.ones(len(c))), c, axes=1)
            for p, c in corrs[day].items()
        }
        chosen = best_tuple(pairs, [devs[n].k for n in names], day)
        houses = {devs[n].households[t] for n, t in zip(names, chosen, strict=True)}
        out[day] = (chosen, _real_tuple(devs, names, day), len(houses) == 1)
    return out


def linking_findings(
    devs: dict[str, DeviceTracks], cut: int, reference: dict | None = None
) -> list[Finding]:
    """The share of held-out days on which the most coherent tuple is the real household,
    beside the same attacker on the reference disguise (fakes independent per device)."""
    k = next(iter(devs.values())).k
    name = "cross-device linking names the real household"
    if len(devs) < 2:
        return [Finding.skipped("linking", name, "needs two devices")]
    found = _link(devs, cut)
    if not found:
        return [Finding.skipped("linking", name, "no held-out day shared by the devices")]
    hits = [n == r for n, r, _o in found.values()]
    right = np.mean([np.mean(np.equal(n, r)) for n, r, _o in found.values()])
    one = np.mean([o for _n, _r, o in found.values()])
    strength = None
    if reference is not None and (ref := _link(reference, cut)):
        strength = float(np.mean([n == r for n, r, _o in ref.values()]))
    return [
        Finding(
            "linking",
            name,
            float(np.mean(hits)),
            1 / k + 0.05,
            f"{len(devs)} devices, {k ** len(devs)} tuples a day; in the tuple named, "
            f"{right:.2f} of the devices' tracks are real (chance {1 / k:.2f}) and it was one "
            f"household (real or fake) on {one:.2f} of days",
            len(hits),
            strength,
            {
                "by_day": {date(d): bool(h) for d, h in zip(found, hits, strict=True)},
                "devices_right": float(right),
                "one_household": float(one),
            },
        )
    ]
