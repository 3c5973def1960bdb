"""What the audit tells the owner: plain sentences first (what an outsider found, how far to
trust it, what to do next), then the table, a picture and JSON with every number."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .findings import Finding

FEW_DAYS = 7  # below this, a finding per day is more luck than measure


def _pct(x: float) -> str:
    return f"{100 * x:.0f}%"


def _clean(x):
    """JSON has no NaN: an attack that could not run has no value."""
    if isinstance(x, float) and math.isnan(x):
        return None
    if isinstance(x, dict):
        return {str(k): _clean(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_clean(v) for v in x]
    if isinstance(x, np.generic):
        return _clean(x.item())
    return x


def owner_label(f: Finding) -> str:
    """The finding in the owner's words, for the picture."""
    if f.key.startswith("disc_"):
        how = f.name.removeprefix("discriminative score, ")
        return f"fakes told apart, above guessing ({how})"
    return {
        "pick_day": "your real track named, day by day",
        "pick_feed": "your real track named, whole feed",
        "occupancy_clock": "home or away, guessed from the clock (reference)",
        "occupancy_raw": "home or away, guessed from your raw data (reference)",
        "occupancy": "home or away, guessed from the disguised feed",
        "linking": "your devices linked into your household",
        "covariate": "your real track named from the weather",
    }.get(f.key, f.name)


@dataclass
class AuditReport:
    k: int
    devices: list[str]
    cut: int
    findings: list[Finding]
    test_days: int = 0  # household days the attackers were tested on
    reference: bool = False  # whether the attackers also ran on the reference disguise

    def get(self, key: str) -> Finding | None:
        return next((f for f in self.findings if f.key == key), None)

    @property
    def all_met(self) -> bool:
        return all(f.met is not False for f in self.findings)

    # ------------------------------------------------------------------ words

    def sentences(self) -> list[str]:
        """What an outsider found, in plain words."""
        out = []
        chance = f"chance 1 in {self.k}"
        if (f := self.get("pick_day")) and f.trials:
            parts = f.parts
            if len(parts) <= 4:
                for dev, p in parts.items():
                    out.append(
                        f"An outsider picked your real {dev} track on {p['named']} of "
                        f"{p['days']} days ({chance})."
                    )
            else:
                worst = max(parts, key=lambda d: parts[d]["named"] / max(parts[d]["days"], 1))
                w = parts[worst]
                out.append(
                    f"Across your {len(parts)} devices, an outsider picked the real track on "
                    f"{sum(p['named'] for p in parts.values())} of {f.trials} device-days "
                    f"({chance}); most often {worst}'s, on {w['named']} of {w['days']} days."
                )
        if (f := self.get("pick_feed")) and f.trials:
            out.append(
                "Adding up everything the feed shows, the track an outsider would name carries "
                f"your real readings {_pct(f.value)} of the time (chance {_pct(1 / self.k)})."
            )
        disc = [f for f in self.findings if f.key.startswith("disc_") and f.trials]
        if disc:
            worst = max(disc, key=lambda f: f.value)
            out.append(
                f"The sharpest attacker ({worst.name.removeprefix('discriminative score, ')}) "
                f"told your real readings from the fakes {_pct(0.5 + worst.value)} of the time "
                "(50% is guessing)."
            )
        out += self._occupancy_words()
        if (f := self.get("linking")) and f.trials:
            hits = sum(f.parts["by_day"].values())
            out.append(
                f"Linking your {len(self.devices)} devices, an outsider named your real household "
                f"(every device's real track at once) on {hits} of {f.trials} days ({chance})."
            )
        if (f := self.get("covariate")) and f.trials:
            out.append(
                f"Comparing with the outdoor weather, an outsider named your real track on "
                f"{_pct(f.value)} of {f.trials} room-days ({chance})."
            )
        return out

    def _occupancy_words(self) -> list[str]:
        f = self.get("occupancy")
        if not f or not f.trials:
            return []
        clock, raw, dis = f.parts["clock"], f.parts["undisguised"], f.value
        if raw < clock + 0.03:
            said = (
                f"Your raw data tells no more about whether someone is home ({_pct(raw)} right) "
                f"than the clock alone ({_pct(clock)}), so this feed cannot show whether the "
                f"disguise hides it (disguised: {_pct(dis)})."
            )
        elif dis >= raw - 0.01:
            said = (
                "Your occupancy is as easy to guess disguised as raw: an outsider tells whether "
                f"someone is home {_pct(dis)} of the time, against {_pct(clock)} from the clock "
                "alone."
            )
        elif f.met:
            said = (
                "Your occupancy is hidden: from the disguised feed an outsider guesses whether "
                f"someone is home {_pct(dis)} of the time, about as well as from the clock alone "
                f"({_pct(clock)}); from your raw data it would be {_pct(raw)}."
            )
        else:
            said = (
                "The disguise hides part of your occupancy: an outsider guesses whether someone "
                f"is home {_pct(dis)} of the time, against {_pct(raw)} from your raw data and "
                f"{_pct(clock)} from the clock alone."
            )
        return [said]

    def warnings(self) -> list[str]:
        """How far to trust the sentences."""
        out = []
        by_day = [f for f in self.findings if f.key in ("pick_day", "linking") and f.trials]
        if self.test_days and self.test_days < FEW_DAYS and by_day:
            spread = math.sqrt((1 / self.k) * (1 - 1 / self.k) / self.test_days)
            out.append(
                f"These findings rest on only {self.test_days} test day(s): a day-by-day rate "
                f"is uncertain by about {_pct(spread)} either way at that count, even at chance. "
                f"Audit at least {FEW_DAYS} test days (about {math.ceil(FEW_DAYS / 0.4)} days "
                "of feed)."
            )
        if not self.reference:
            out.append(
                "The feed is too short to measure the attackers' own strength (they need k "
                "days before and after the split), so a low number may only mean a weak "
                "attacker."
            )
        else:
            f = self.get("pick_day")
            if f and f.met and f.strength is not None and f.strength <= (f.target or 1):
                out.append(
                    "Even against fakes made of your own readings from other days, the attackers "
                    f"named the real track on only {_pct(f.strength)} of days: on this feed they "
                    "are weak, so their low numbers say little."
                )
        return out

    def advice(self) -> list[str]:
        """What to do next."""
        failed = {f.key for f in self.findings if f.met is False}
        out = []
        if self.test_days < FEW_DAYS:
            out.append("Record more history and run the audit again.")
        if any(k.startswith("disc_") or k.startswith("pick_") for k in failed):
            out.append(
                "Refit the decoy profiles on your latest history (`veil profile fit`) and push "
                "them to the boards (`veil provision`), then audit a new stretch of feed."
            )
        if "linking" in failed:
            out.append(
                "Refit every device of the home in one `veil profile fit`, so the fake "
                "households share one rhythm across devices."
            )
        if "occupancy" in failed:
            out.append(
                "A larger k (more fake households) makes occupancy harder to read; choose it "
                "when the home's devices are provisioned."
            )
        if "covariate" in failed:
            out.append("Refit on history that covers the current season.")
        if not failed:
            out.append("Every target is met. Audit again after a month or a change in the home.")
        return out

    def table(self) -> str:
        lines = [
            "| attack | value | target | met | strength | trials | notes |",
            "| --- | ---: | ---: | --- | ---: | ---: | --- |",
        ]
        for f in self.findings:
            target = "" if f.target is None else f"<= {f.target:.3f}"
            met = {True: "yes", False: "**no**", None: ""}[f.met]
            value = "n/a" if f.value != f.value else f"{f.value:.3f}"
            s = "" if f.strength is None or f.strength != f.strength else f"{f.strength:.3f}"
            lines.append(
                f"| {f.name} | {value} | {target} | {met} | {s} | {f.trials or ''} | {f.detail} |"
            )
        return "\n".join(lines)

    def text(self) -> str:
        """Everything the owner reads: findings, warnings, advice, then the table."""
        blocks = [" ".join(self.sentences())]
        if w := self.warnings():
            blocks.append("\n".join(f"Warning: {x}" for x in w))
        blocks.append("What to do next:\n" + "\n".join(f"- {x}" for x in self.advice()))
        blocks.append(self.table())
        return "\n\n".join(b for b in blocks if b)

    def to_json(self) -> dict:
        return _clean(
            {
                "k": self.k,
                "devices": self.devices,
                "cut": self.cut,
                "test_days": self.test_days,
                "reference": self.reference,
                "all_met": self.all_met,
                "sentences": self.sentences(),
                "warnings": self.warnings(),
                "advice": self.advice(),
                "findings": [f.to_json() for f in self.findings],
            }
        )


def draw(report: AuditReport, png: Path) -> None:
    """One row per finding: a bar and a dot at its value, a black tick at its target, a
    hollow diamond at the attacker's strength; lower is better everywhere."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    found = [f for f in report.findings if f.value == f.value][::-1]
    fig, ax = plt.subplots(figsize=(10, 0.5 * len(found) + 2.5))
    y = np.arange(len(found))
    colour = ["grey" if f.met is None else ("tab:green" if f.met else "tab:red") for f in found]
    ax.barh(y, [f.value for f in found], color=colour, alpha=0.35, height=0.6)
    ax.scatter([f.value for f in found], y, color=colour, zorder=3, label="found")
    targets = [(f.target, i) for i, f in enumerate(found) if f.target is not None]
    if targets:
        ax.scatter(
            *zip(*targets, strict=True),
            marker="|",
            s=400,
            color="black",
            zorder=4,
            label="target (at most)",
        )
    strong = [(f.strength, i) for i, f in enumerate(found) if f.strength is not None]
    if strong:
        ax.scatter(
            *zip(*strong, strict=True),
            marker="D",
            facecolors="none",
            edgecolors="tab:blue",
            zorder=4,
            label="its strength: the attacker on raw data or a weak disguise",
        )
    for i, f in enumerate(found):
        ax.text(f.value, i + 0.3, f" {f.value:.2f}", va="center", fontsize=8)
    ax.set_yticks(y, [owner_label(f) for f in found], fontsize=9)
    ax.set_xlim(0, 1.05)
    ax.set_xlabel("how well an outsider does (a share of days or of guesses): lower is better")
    ax.set_title(
        f"veil audit: {len(report.devices)} device(s), k = {report.k}, "
        f"{report.test_days} test day(s)\ngreen: target met, red: not met, grey: for reference",
        fontsize=10,
    )
    ax.legend(loc="upper center", bbox_to_anchor=(0.4, -0.09), ncol=3, fontsize=8)
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    fig.savefig(png, dpi=90)
    plt.close(fig)
