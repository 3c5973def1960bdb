"""What gives the fakes away, channel by channel, in a disguised feed kept by the benchmark.

    python bench/bench_audit.py ../shared/data --only robod --no-check --keep /tmp/k
    python tools/tells.py /tmp/k/robod [--window 3600] [--top 3]

For every device and channel: the window features (veil.privacy.audit.features) that one at a
time best tell real windows from fake ones (AUC, 0.5 is none; far from it either way is a
tell), how often the real reading is the highest or lowest of the k tracks at a tick (1/k each
when the level tells nothing), and the real and fake tracks' mean |step| and share of repeated
readings. It reads the home's key from the kept folder, as the owner would: a diagnosis for
the decoys' engineers, not an attack (docs/audit.md has those).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from sklearn.metrics import roc_auc_score

from veil.errors import VeilError
from veil.feed import read_feed
from veil.owner.home import Home
from veil.privacy.audit.features import hand_features, windows
from veil.privacy.audit.tracks import DeviceTracks, load_tracks

NAMES = ("mean", "std", "min", "max", "net", "mad", "sdd", "maxd", "zero", "ac1")


def auc(real: np.ndarray, fake: np.ndarray) -> float:
    """P(a real window's feature > a fake one's), ties counted half; 0.5 with nothing to
    compare."""
    real, fake = real[np.isfinite(real)], fake[np.isfinite(fake)]
    if not len(real) or not len(fake):
        return 0.5
    truth = np.r_[np.ones(len(real)), np.zeros(len(fake))]
    return float(roc_auc_score(truth, np.r_[real, fake]))


def channel_rows(name: str, dev: DeviceTracks, secs: int, top: int) -> list[str]:
    """One line per channel of device `name`: its `top` tells in `secs`-long windows, its
    level's rank among the tracks, its steps real against fake."""
    groups = windows(dev, secs)
    ticks = np.arange(len(dev.times))
    is_real = np.arange(dev.k)[:, None] == dev.real[None, :]
    out = []
    for c, ch in enumerate(dev.spec.channels):
        real, fake = [], []
        for g in groups:
            r = dev.real_of(g)
            for t in range(dev.k):
                (real if t == r else fake).append(hand_features(dev.values[t, g, c], ch.dec)[:10])
        if not real or not fake:
            continue
        real_f, fake_f = np.array(real), np.array(fake)
        aucs = [auc(real_f[:, i], fake_f[:, i]) for i in range(len(NAMES))]
        best = sorted(range(len(NAMES)), key=lambda i: -abs(aucs[i] - 0.5))[:top]
        values = dev.values[:, :, c]
        mine = values[dev.real, ticks]
        steps = np.abs(np.diff(values, axis=1))
        step_real = is_real[:, 1:] & (dev.real[1:] == dev.real[:-1])[None, :]
        real_steps, fake_steps = steps[step_real], steps[~step_real]
        top_share = float(np.mean((values < mine).sum(0) == dev.k - 1))
        low_share = float(np.mean((values > mine).sum(0) == dev.k - 1))
        out.append(
            f"{name:12s} {ch.name:28s} "
            + " ".join(f"{NAMES[i]} {aucs[i]:.2f}" for i in best)
            + f" | highest {top_share:.2f} lowest {low_share:.2f}"
            + f" | |step| {real_steps.mean():.4g} / {fake_steps.mean():.4g}"
            + f" | repeats {np.mean(real_steps == 0):.2f} / {np.mean(fake_steps == 0):.2f}"
        )
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folder", type=Path, help="a set's folder in bench_audit.py --keep DIR")
    ap.add_argument("--window", type=int, default=3600, help="window length, seconds")
    ap.add_argument("--top", type=int, default=3, help="features shown per channel")
    args = ap.parse_args(argv)
    if args.window <= 0 or args.top <= 0:
        print("error: --window and --top must be positive")
        return 1
    feeds = sorted(args.folder.glob("*/feed.jsonl"))
    if not feeds or not (args.folder / "home").is_dir():
        print(f"error: {args.folder} holds no home/ and device feeds (bench_audit.py --keep)")
        return 1
    try:
        keys, specs = Home(args.folder / "home").for_records()
        items = [item for f in feeds for item in read_feed(f)]
        devices = load_tracks(items, keys, specs)
    except VeilError as e:
        print(f"error: {e}")
        return 1
    if not devices:
        print(f"error: no records of the home's devices in {args.folder}")
        return 1
    print(f"{args.window} s windows. highest / lowest: the share of ticks the real reading is the")
    print("highest / lowest of the tracks'. |step| and repeats: real / fake tracks.")
    for name, dev in sorted(devices.items()):
        for row in channel_rows(name, dev, args.window, args.top):
            print(row)
    return 0


if __name__ == "__main__":
    sys.exit(main())
