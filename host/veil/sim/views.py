"""The picture of the two views: what the platform sees (k tracks, all alike) beside what the
owner sees (the real readings, de-mixed with the key). Each row is a channel in its unit;
on/off channels are steps, one lane per track, so that the k tracks stay readable."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.dates as mdates
import matplotlib.pyplot as plt

from ..owner.decode import Reading
from ..privacy.profile import guess_kind
from ..protocol import DeviceSpec, Record

# Unit of each kind of channel; on/off kinds name their two states instead.
UNITS = {"temperature": "°C", "humidity": "% RH", "co2": "ppm", "light": "lux",
         "pressure": "hPa"}  # fmt: skip
STATES = {"motion": ("off", "on"), "door": ("closed", "open")}
LANE = 0.7  # height of an on/off step inside its lane of 1


def _time(ts: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(ts, dt.UTC)


def _label(name: str, kind: str, unit: str | None) -> str:
    if kind in STATES:
        return f"{name}\n({'/'.join(STATES[kind][::-1])})"
    unit = unit or UNITS.get(kind)
    return f"{name}\n({unit})" if unit else name


def _lanes(ax, series: list[tuple[str, list, list]], states: tuple[str, str], colours) -> None:
    """On/off series as steps, each in its own lane, labelled by name and state."""
    ticks, labels = [], []
    for lane, ((name, times, values), colour) in enumerate(zip(series, colours, strict=True)):
        ys = [None if v is None else lane + LANE * v for v in values]
        ax.plot(times, ys, drawstyle="steps-post", lw=1, color=colour)
        ticks += [lane, lane + LANE]
        labels += [f"{name} {states[0]}" if name else states[0], states[1]]
    ax.set_yticks(ticks, labels, fontsize=8)
    ax.set_ylim(-0.3, len(series) - 1 + LANE + 0.3)


def two_views(
    png: Path,
    spec: DeviceSpec,
    *,
    platform: Iterable[Record],
    readings: list[Reading],
    units: dict[str, str] | None = None,
) -> None:
    """Draw `figure()` into `png`."""
    fig = figure(spec, platform=platform, readings=readings, units=units)
    fig.savefig(png, dpi=90)
    plt.close(fig)


def figure(
    spec: DeviceSpec,
    *,
    platform: Iterable[Record],
    readings: list[Reading],
    units: dict[str, str] | None = None,
):
    """Left: every track the platform stores for the device. Right: the owner's readings
    (gaps where the sensor failed and a stand-in was published). A channel's unit is its
    kind's unless `units` names it (a light-use channel counts energy, not lux)."""
    tracks: dict[int, list[Record]] = defaultdict(list)
    for rec in platform:
        if rec.dev == spec.device:
            tracks[rec.trk].append(rec)
    mine = [r for r in readings if r.dev == spec.device]
    ordered = {t: sorted(tracks[t], key=lambda r: (r.boot, r.seq)) for t in sorted(tracks)}
    colours = [f"C{i}" for i in range(len(ordered))]

    n = len(spec.channels)
    fig, axes = plt.subplots(n, 2, figsize=(14, 2.6 * n + 1), sharex=True, squeeze=False)
    axes[0][0].set_title(f"What the platform sees: {spec.k} tracks, no key", fontsize=12)
    axes[0][1].set_title("What you see: the real readings, with your key", fontsize=12)
    mine_times = [_time(r.ts) for r in mine]
    for row, ch in enumerate(spec.channels):
        kind = guess_kind(ch.name)
        left, right = axes[row]
        scale = 10**ch.dec
        real = [None if r.mask >> row & 1 else r.values[row] / scale for r in mine]
        per_track = [
            (f"track {t}", [_time(r.ts) for r in recs], [r.val.get(ch.name) for r in recs])
            for t, recs in ordered.items()
        ]
        if kind in STATES:
            _lanes(left, per_track, STATES[kind], colours)
            _lanes(right, [("", mine_times, real)], STATES[kind], ["black"])
        else:
            for (name, times, values), colour in zip(per_track, colours, strict=True):
                left.plot(times, values, lw=0.8, color=colour, label=name)
            right.plot(mine_times, real, lw=0.9, color="black")
            right.sharey(left)
        left.set_ylabel(_label(ch.name, kind, (units or {}).get(ch.name)), fontsize=10)
        for ax in (left, right):
            ax.grid(alpha=0.3)
    handles = [plt.Line2D([], [], color=c, lw=2) for c in colours]
    handles.append(plt.Line2D([], [], color="black", lw=2))
    names = [f"track {t}" for t in ordered] + ["your real readings"]
    fig.legend(handles, names, loc="lower center", ncol=len(names), fontsize=10, frameon=False)
    for ax in axes[-1]:
        locator = mdates.AutoDateLocator(maxticks=8)
        ax.xaxis.set_major_locator(locator)
        ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
        ax.set_xlabel("time (UTC)", fontsize=10)
    fig.suptitle(f"veil: device {spec.device}", fontsize=13)
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    return fig
