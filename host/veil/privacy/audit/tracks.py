"""A disguised feed as the audit sees it: for every device, the k tracks as aligned arrays,
plus what only the key tells (which track is real at every tick, which household each track
shows), and the reference disguise the attackers' strength is measured on."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, replace

import numpy as np

from ...errors import VeilError
from ...feed import Rejected
from ...protocol import DeviceSpec, HomeKeys, Record, placement, scaled_values

DAY = 86400
DAY_START = 4 * 3600  # household days start at 04:00 local time, where protocol v2 re-deals


@dataclass
class DeviceTracks:
    spec: DeviceSpec
    times: np.ndarray  # (T,) Unix seconds, one per tick
    values: np.ndarray  # (k, T, C) readings in the channels' units
    real: np.ndarray  # (T,) the real track of each tick (protocol v2 re-deals it daily)
    households: list[int]  # household shown on each track
    tz: int = 0  # local time is UTC + tz seconds

    @property
    def k(self) -> int:
        return self.spec.k

    def days(self, times: np.ndarray | None = None) -> np.ndarray:
        """The household day (from 04:00 local) of each tick, or of `times`."""
        t = self.times if times is None else times
        return (t + self.tz - DAY_START) // DAY

    def real_of(self, at: np.ndarray) -> int:
        """The track real on most of the ticks `at` (a mask or indices over the ticks)."""
        return int(np.bincount(self.real[at], minlength=self.k).argmax())

    def real_values(self) -> np.ndarray:
        """(T, C): the real readings, tick by tick."""
        return self.values[self.real, np.arange(len(self.times))]


def date(day: int) -> str:
    """A household day as the local date it starts on."""
    return str(np.datetime64(int(day), "D"))


def load_tracks(
    items: Iterable[tuple[str, Record | Rejected]],
    keys: HomeKeys,
    specs: dict[str, DeviceSpec],
) -> dict[str, DeviceTracks]:
    """Group records by device and track, aligned on the ticks every track has; the key
    tells the real track of every tick (protocol v2 re-deals it each household day)."""
    got: dict[str, dict[int, dict[tuple, tuple]]] = defaultdict(lambda: defaultdict(dict))
    for _origin, rec in items:
        if isinstance(rec, Rejected) or rec.dev not in specs:
            continue
        spec = specs[rec.dev]
        if rec.ep != spec.epoch or rec.trk >= spec.k:
            continue
        real = keys.real_track(spec, ts=rec.ts, v=rec.v)
        got[rec.dev][rec.trk][(rec.boot, rec.seq)] = (rec.ts, scaled_values(rec, spec), real)
    out = {}
    for dev, tracks in got.items():
        spec = specs[dev]
        if len(tracks) != spec.k:
            raise VeilError(f"device {dev}: the feed holds {len(tracks)} of its {spec.k} tracks")
        ticks = sorted(set.intersection(*(set(t) for t in tracks.values())))
        if len(ticks) < 50:
            raise VeilError(f"device {dev}: {len(ticks)} complete ticks, too few to audit")
        ticks.sort(key=lambda t: tracks[0][t][0])
        times = np.array([tracks[0][t][0] for t in ticks], dtype=np.int64)
        scale = np.array([10.0**c.dec for c in spec.channels])
        values = (
            np.array([[tracks[trk][t][1] for t in ticks] for trk in range(spec.k)], dtype=float)
            / scale
        )
        out[dev] = DeviceTracks(
            spec,
            times,
            values,
            np.array([tracks[0][t][2] for t in ticks]),
            placement(keys.track, dev, spec.epoch, spec.k),
            spec.tz,
        )
    if not out:
        raise VeilError("the feed holds no records of the home's devices")
    return out


def replay_reference(devs: dict[str, DeviceTracks], cut: int) -> dict[str, DeviceTracks] | None:
    """The reference disguise the attackers' strength is measured on: every fake is the
    device's own real readings at the same time of day on another day on the same side of
    `cut` (so nothing the attackers are tested on appears in their training data), and no
    two devices replay the same day while there are days enough: the fakes look real but are
    not coherent across the home. None when a side spans fewer than k days."""
    out = {}
    for m, (name, dev) in enumerate(sorted(devs.items())):
        values = dev.values.copy()
        for side in (dev.times < cut, dev.times >= cut):
            idx = np.flatnonzero(side)
            if len(np.unique(dev.days(dev.times[idx]))) < dev.k:
                return None
            values[:, idx] = _replayed(dev, idx, m)
        out[name] = replace(dev, values=values)
    return out


def _replayed(dev: DeviceTracks, idx: np.ndarray, m: int) -> np.ndarray:
    """(k, len(idx), C): the ticks `idx` with fakes replaced by the real readings of other
    days among them, nearest in time of day; device number `m` picks which days."""
    times, real = dev.times[idx], dev.real[idx]
    day = dev.days(times)
    uniq = np.unique(day)
    pos = np.searchsorted(uniq, day)
    tod = (times + dev.tz - DAY_START) % DAY
    key = pos * DAY + tod  # rises with time: a day's nearest tick by bisection
    starts = np.searchsorted(pos, np.arange(len(uniq)))
    ends = np.searchsorted(pos, np.arange(len(uniq)), side="right") - 1
    source = dev.real_values()[idx]
    values = dev.values[:, idx].copy()
    for trk in range(dev.k):
        fake = real != trk
        j = np.where(trk < real, trk, trk - 1)[fake]  # this track's rank among the fakes
        d = (pos[fake] + 1 + (m * (dev.k - 1) + j) % (len(uniq) - 1)) % len(uniq)
        at = np.clip(np.searchsorted(key, d * DAY + tod[fake]), starts[d], ends[d])
        before = np.clip(at - 1, starts[d], ends[d])
        at = np.where(np.abs(tod[before] - tod[fake]) < np.abs(tod[at] - tod[fake]), before, at)
        values[trk, fake] = source[at]
    return values
