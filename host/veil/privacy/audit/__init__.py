"""`veil audit`: the owner's privacy audit of a disguised feed. A battery of attacks that do not
use the key, each reported as a number beside its target (docs/audit.md explains them)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from ...errors import VeilError
from ...feed import Rejected
from ...progress import Progress, quiet
from ...protocol import DeviceSpec, HomeKeys, Record
from .attacks import (
    Finding,
    covariate,
    discriminative,
    linking,
    make_windows,
    occupancy,
    pick_real,
)
from .tracks import DeviceTracks, load_tracks


@dataclass
class Series1D:
    """A time series given to the audit from outside the feed (labels, a public covariate)."""

    times: np.ndarray
    values: np.ndarray


@dataclass
class AuditReport:
    k: int
    devices: list[str]
    cut: int
    findings: list[Finding]

    def table(self) -> str:
        lines = [
            "| attack | value | target | met | trials | notes |",
            "| --- | ---: | ---: | --- | ---: | --- |",
        ]
        for f in self.findings:
            target = "" if f.target is None else f"<= {f.target:.3f}"
            met = {True: "yes", False: "**no**", None: ""}[f.met]
            lines.append(
                f"| {f.name} | {f.value:.3f} | {target} | {met} | {f.trials or ''} | {f.detail} |"
            )
        return "\n".join(lines)

    @property
    def all_met(self) -> bool:
        return all(f.met is not False for f in self.findings)

    def to_json(self) -> dict:
        return {
            "k": self.k,
            "devices": self.devices,
            "cut": self.cut,
            "all_met": self.all_met,
            "findings": [
                {
                    "name": f.name,
                    "value": f.value,
                    "target": f.target,
                    "met": f.met,
                    "trials": f.trials,
                    "detail": f.detail,
                }
                for f in self.findings
            ],
        }


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
    progress: Progress = quiet,
) -> AuditReport:
    """Every attack on the feed `items`, each phase reported to `progress` (veil.progress)."""
    progress("decode")
    devs = load_tracks(items, keys, specs)
    ks = {d.k for d in devs.values()}
    if len(ks) != 1:
        raise VeilError("the audit needs every device of the home to use the same k")
    cut = split_time(devs, train)
    progress("windows")
    wins = [make_windows(d) for d in devs.values()]
    progress("attack: real vs fake")
    found = discriminative(wins, cut, seed)
    progress("attack: pick the real track")
    found.append(pick_real(wins, cut))
    if labels is not None:
        progress("attack: occupancy")
        found += occupancy(devs, labels.times, labels.values, cut, wins, seed)
    if len(devs) > 1:
        progress("attack: linking devices")
        found += linking(devs, cut)
    if covariate_series is not None:
        progress("attack: public covariate")
        found += covariate(devs, covariate_series.times, covariate_series.values, cut)
    return AuditReport(ks.pop(), sorted(devs), cut, found)
