"""A synthetic home for the audit's tests: every household, the real one included, is a draw
of the same small model (occupancy episodes drive CO2, light and motion; a public weather
series moves the temperature), so a perfect disguise is one where the fakes are simply more
draws. Bad disguises are made from it by replacing the fakes."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from veil.privacy.audit.tracks import DeviceTracks
from veil.protocol import Channel, DeviceSpec

DAY = 86400
DEVICES = {
    "co2": (("co2", 0),),
    "node": (("temp", 1), ("light", 0)),
    "pir": (("motion", 0),),
}


def weather(times: np.ndarray, seed: int) -> np.ndarray:
    """A public outdoor temperature: a daily swing plus a slow random walk."""
    rng = np.random.default_rng(seed)
    walk = np.cumsum(rng.normal(0, 0.15, len(times)))
    return 8 + 4 * np.sin(2 * np.pi * ((times % DAY) / DAY - 0.375)) + walk


def occupancy(times: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """1 while someone is home: outings of an hour or two at random in the daytime, home at
    night, away some whole days."""
    occ = np.ones(len(times), dtype=int)
    days = times // DAY
    away = {d: rng.random() < 0.1 for d in np.unique(days)}
    home = 1
    for i, t in enumerate(times):
        hour = (t % DAY) / 3600
        if home and 7 <= hour < 22 and rng.random() < 0.06:
            home = 0
        elif not home and rng.random() < (0.06 if 7 <= hour < 22 else 0.5):
            home = 1
        occ[i] = 0 if away[days[i]] else home
    return occ


def household(times, occ, w, rng) -> dict[str, np.ndarray]:
    """One household's readings on every device, (T, C) each, on the channels' grids; `occ`
    all zero gives readings that tell nothing of anyone being home."""
    n = len(times)
    daylight = np.clip(np.sin(np.pi * ((times % DAY) / 3600 - 6) / 12), 0, None)
    co2 = np.empty(n)
    c = 450.0
    for i in range(n):
        c += 25 * occ[i] - 0.1 * (c - 420) + rng.normal(0, 4)
        co2[i] = c
    drift = np.empty(n)
    x = 0.0
    for i in range(n):  # wanders for an hour or two, never far: no household keeps a level
        x = 0.9 * x + rng.normal(0, 0.05)
        drift[i] = x
    temp = 19.5 + 0.15 * w + 0.6 * occ + drift
    light = np.clip(occ * rng.normal(150, 20, n) * (1 - daylight) + 60 * daylight, 0, None)
    motion = (occ * (rng.random(n) < 0.6)).astype(float)
    out = {
        "co2": co2[:, None],
        "node": np.stack([temp, light], axis=1),
        "pir": motion[:, None],
    }
    for name, chans in DEVICES.items():
        for j, (_c, dec) in enumerate(chans):
            out[name][:, j] = np.round(out[name][:, j], dec)
    return out


def home(days=20, k=4, period=600, seed=0, real=1, *, seen=True, outdoors=True):
    """(tracks per device, occupancy labels of the real household, weather): a home where
    every track is a draw of the model and track `real` is the real household's. Unless
    `seen`, no reading depends on occupancy (the labels are then the only trace of it);
    unless `outdoors`, none on the weather."""
    times = np.arange(0, days * DAY, period, dtype=np.int64) + 1_700_006_400  # a Wednesday
    w = weather(times, seed)
    rng = np.random.default_rng(seed + 1)
    occs = [occupancy(times, rng) for _ in range(k)]
    houses = [household(times, occ * seen, w * outdoors, rng) for occ in occs]
    devs = {}
    for name, chans in DEVICES.items():
        spec = DeviceSpec(name, k, 0, tuple(Channel(c, d, -(10**6), 10**6) for c, d in chans))
        values = np.stack([h[name] for h in houses])
        devs[name] = DeviceTracks(spec, times, values, np.full(len(times), real), list(range(k)))
    return devs, (times, occs[real]), (times, w)


def with_fakes(devs: dict[str, DeviceTracks], make) -> dict[str, DeviceTracks]:
    """The same home with every fake replaced by make(name, real_values (T, C), track)."""
    out = {}
    for name, dev in devs.items():
        values = dev.values.copy()
        real = dev.real_values()
        for t in range(dev.k):
            fake = dev.real != t
            values[t, fake] = make(name, real, t)[fake]
        out[name] = replace(dev, values=values)
    return out


def redealt(devs: dict[str, DeviceTracks]) -> dict[str, DeviceTracks]:
    """The same households with the real one re-dealt every household day (as protocol v2
    does), here simply in turn: the same on every device, each real on 1/k of the days."""
    first = next(iter(devs.values()))
    real = first.days() % first.k
    return {n: replace(d, real=real) for n, d in devs.items()}
