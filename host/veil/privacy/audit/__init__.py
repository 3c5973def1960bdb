"""`veil audit`: the owner's privacy audit of a disguised feed. A battery of attacks that do not
use the key, each reported as a number beside its target and beside the same attacker's
strength where it should succeed (docs/audit.md explains them)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from ...errors import VeilError
from ...feed import Rejected
from ...progress import Progress, quiet
from ...protocol import DeviceSpec, HomeKeys, Record
from .covariate import covariate_findings
from .discriminate import attackers, balanced_accuracy, one_thread, score
from .evidence import pick_findings
from .findings import Finding
from .linking import linking_findings
from .occupancy import occupancy_findings
from .report import AuditReport
from .tracks import DeviceTracks, load_tracks, replay_reference

__all__ = ["AuditReport", "Finding", "Series1D", "audit_tracks", "run_audit"]


@dataclass
class Series1D:
    """A time series given to the audit from outside the feed (labels, a public covariate)."""

    times: np.ndarray
    values: np.ndarray


def split_time(devs: dict[str, DeviceTracks], train: float) -> int:
    """The time before which `train` of all readings lie: attackers learn before, are tested
    after."""
    times = np.concatenate([d.times for d in devs.values()])
    return int(np.quantile(times, train))


def run_audit(
    items: Iterable[tuple[str, Record | Rejected]],
    keys: HomeKeys,
    specs: dict[str, DeviceSpec],
    *,
    labels: Series1D | None = None,
    covariate_series: Series1D | None = None,
    train: float = 0.6,
    seed: int = 0,
    reference: bool = True,
    progress: Progress = quiet,
) -> AuditReport:
    """Audit a disguised feed (`audit_tracks` says how). The devices' specs give the home's
    time zone, for the attackers' clock and the household days."""
    progress("decode")
    return audit_tracks(
        load_tracks(items, keys, specs),
        labels=labels,
        covariate_series=covariate_series,
        train=train,
        seed=seed,
        reference=reference,
        progress=progress,
    )


@one_thread
def audit_tracks(
    devs: dict[str, DeviceTracks],
    *,
    labels: Series1D | None = None,
    covariate_series: Series1D | None = None,
    train: float = 0.6,
    seed: int = 0,
    reference: bool = True,
    progress: Progress = quiet,
) -> AuditReport:
    """Every attack on the tracks: attackers learn before the time `train` of the readings
    lie before and are scored after it. With `reference`, each is also run on the reference
    disguise (tracks.replay_reference) to show its strength. `progress(phase, done, total)`
    hears of each attack as it runs, counted in devices."""
    ks = {d.k for d in devs.values()}
    if len(ks) != 1:
        raise VeilError("the audit needs every device of the home to use the same k")
    cut = split_time(devs, train)
    ref = replay_reference(devs, cut) if reference else None
    found: list[Finding] = []
    scores: dict[str, list] = {n: [] for n in devs}
    ref_scores: dict[str, list] = {n: [] for n in devs}
    for att in attackers(devs):
        runs = [(devs, scores)] + ([(ref, ref_scores)] if ref else [])
        total, done = len(devs) * len(runs), 0
        bacc = []
        for tracks, into in runs:
            mine = []
            for name, dev in tracks.items():
                progress(att.name, done, total)
                if (s := score(att, dev, cut, seed)) is not None:
                    into[name].append(s)
                    mine.append(s)
                done += 1
            bacc.append(balanced_accuracy(mine))
        progress(att.name, done, total)
        (acc, n), strength = bacc[0], (abs(bacc[1][0] - 0.5) if ref else None)
        found.append(
            Finding(
                f"disc_{att.key}",
                f"discriminative score, {att.name}",
                abs(acc - 0.5),
                0.05,
                f"held-out balanced accuracy {acc:.3f}" if n else "too few windows",
                n,
                strength,
                {"balanced_accuracy": acc, "seconds": att.seconds},
            )
        )
    found += pick_findings(devs, scores, cut, (ref, ref_scores) if ref else None)
    if labels is not None:
        progress("occupancy", 0, None)
        found += occupancy_findings(devs, labels.times, labels.values, cut, scores, seed)
    if len(devs) > 1:
        progress("cross-device linking", 0, None)
        found += linking_findings(devs, cut, ref)
    if covariate_series is not None:
        progress("public covariate", 0, None)
        found += covariate_findings(devs, covariate_series.times, covariate_series.values, cut, ref)
    days = {int(d) for dev in devs.values() for d in dev.days(dev.times[dev.times >= cut])}
    return AuditReport(ks.pop(), sorted(devs), cut, found, len(days), ref is not None)
