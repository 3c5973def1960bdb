"""The picture of the two views: what the platform sees (k tracks, all alike) beside what the
owner sees (the real readings, de-mixed with the key)."""

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
from ..protocol import DeviceSpec, Record


def _time(ts: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(ts, dt.UTC)


def two_views(
    png: Path, spec: DeviceSpec, *, platform: Iterable[Record], readings: list[Reading]
) -> None:
    """Left: every track the platform stores for the device. Right: the owner's readings
    (gaps where the sensor failed and a stand-in was published)."""
    tracks: dict[int, list[Record]] = defaultdict(list)
    for rec in platform:
        if rec.dev == spec.device:
            tracks[rec.trk].append(rec)
    mine = [r for r in readings if r.dev == spec.device]

    n = len(spec.channels)
    fig, axes = plt.subplots(n, 2, figsize=(14, 2.4 * n), sharex=True, squeeze=False)
    axes[0][0].set_title(f"What the platform sees: {spec.k} tracks, no key")
    axes[0][1].set_title("What you see: the real readings, with your key")
    for row, ch in enumerate(spec.channels):
        for trk in sorted(tracks):
            recs = sorted(tracks[trk], key=lambda r: (r.boot, r.seq))
            axes[row][0].plot(
                [_time(r.ts) for r in recs],
                [r.val.get(ch.name) for r in recs],
                lw=0.8,
                label=f"track {trk}",
            )
        axes[row][1].plot(
            [_time(r.ts) for r in mine],
            [None if r.mask >> row & 1 else r.values[row] / 10**ch.dec for r in mine],
            lw=0.9,
            color="black",
        )
        axes[row][0].set_ylabel(ch.name)
        for ax in axes[row]:
            ax.grid(alpha=0.3)
    axes[0][0].legend(loc="upper right", fontsize=7, ncol=min(spec.k, 8))
    for ax in axes[-1]:
        locator = mdates.AutoDateLocator(maxticks=6)
        ax.xaxis.set_major_locator(locator)
        ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    fig.suptitle(f"veil: device {spec.device}")
    fig.tight_layout()
    fig.savefig(png, dpi=90)
    plt.close(fig)
