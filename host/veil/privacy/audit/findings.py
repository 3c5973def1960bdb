"""One number of the audit, with its target, the attacker's strength and what lies behind."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Finding:
    """`value` against `target` (None: a reference number with no target). `strength` is the
    same attacker's number where it should succeed (the undisguised feed, or the reference
    disguise), to show it is not simply weak; `parts` holds every number behind `value`
    (per device, per day, per window length)."""

    key: str  # stable name for scripts, e.g. "pick_day"
    name: str  # the table's words
    value: float
    target: float | None = None
    detail: str = ""
    trials: int = 0
    strength: float | None = None
    parts: dict = field(default_factory=dict)

    @classmethod
    def skipped(cls, key: str, name: str, why: str) -> Finding:
        """An attack that could not run on this feed, and why."""
        return cls(key, name, float("nan"), detail=why)

    @property
    def met(self) -> bool | None:
        if self.target is None or self.value != self.value:  # NaN: the attack could not run
            return None
        return self.value <= self.target

    def to_json(self) -> dict:
        return {
            "key": self.key,
            "name": self.name,
            "value": self.value,
            "target": self.target,
            "met": self.met,
            "trials": self.trials,
            "strength": self.strength,
            "detail": self.detail,
            "parts": self.parts,
        }
