"""A disguised feed as the audit sees it: for every device, the k tracks as aligned arrays,
plus what only the key tells (which track is real, which household each track shows)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from ...errors import VeilError
from ...feed import Rejected
from ...protocol import DeviceSpec, HomeKeys, Record, placement, scaled_values


@dataclass
class DeviceTracks:
    spec: DeviceSpec
    times: np.ndarray  # (T,) Unix seconds, one per tick
    values: np.ndarray  # (k, T, C) readings in the channels' units
    real: np.ndarray  # (T,) the real track of each tick (protocol v2 re-deals it daily)
    households: list[int]  # household shown on each track

    @property
    def k(self) -> int:
        return self.spec.k

    def real_of(self, at: np.ndarray) -> int:
        """The track real on most of the ticks `at` (a mask or indices over the ticks)."""
        return int(np.bincount(self.real[at], minlength=self.k).argmax())


def load_tracks(
    items: Iterable[tuple[str, Record | Rejected]], keys: HomeKeys, specs: dict[str, DeviceSpec]
) -> dict[str, DeviceTracks]:
    """Group records by device and track, aligned on the ticks every track has."""
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
        )
    if not out:
        raise VeilError("the feed holds no records of the home's devices")
    return out
