"""The audit's picture: every attack's number beside its target."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt


def draw(report, png: Path) -> None:
    found = [f for f in report.findings if f.value == f.value]  # drop NaN (attack not run)
    fig, ax = plt.subplots(figsize=(10, 0.55 * len(found) + 1.5))
    names = [f.name for f in found][::-1]
    values = [f.value for f in found][::-1]
    colours = ["grey" if f.met is None else ("tab:green" if f.met else "tab:red") for f in found][
        ::-1
    ]
    ax.barh(names, values, color=colours)
    for y, f in enumerate(found[::-1]):
        if f.target is not None:
            ax.plot([f.target, f.target], [y - 0.4, y + 0.4], color="black", lw=2)
        ax.text(f.value, y, f" {f.value:.3f}", va="center", fontsize=8)
    ax.set_xlim(0, 1.05)
    ax.set_title(
        f"veil audit, {len(report.devices)} devices, k={report.k}: black line = target; "
        "green met, red not met, grey for reference",
        fontsize=9,
    )
    ax.tick_params(axis="y", labelsize=8)
    fig.tight_layout()
    fig.savefig(png, dpi=90)
    plt.close(fig)
