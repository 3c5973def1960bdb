"""Owner-side decode: pick out the real track of every device with the home key, verify every
record's tag, and account for every record that is not a clean, first copy of itself.

The rules are those of docs/protocol.md section 6. Recovered readings are keyed by their slot,
so loss, duplication and reordering in transit never change what comes out.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path

from ..errors import VeilError
from ..feed import Rejected
from ..protocol import (
    CanonicalPacker,
    DeviceSpec,
    HomeKeys,
    MalformedRecord,
    Record,
    check_tag,
    format_value,
    split_hidden,
)

# Findings that mean the data was tampered with, lost or is not one reading per time (decode
# exits non-zero on these).
PROBLEMS = ("altered", "injected", "missing", "malformed", "repeated_time")
UNPARSED = "-"  # report row for messages that name no known device
FINDINGS = (
    "verified_real",
    "verified_fake",
    "stand_in",
    "duplicated",
    "reordered",
    "missing_dropped",  # missing real records the device reported dropping (protocol 4.4)
    *PROBLEMS,
)


class WrongKeyError(VeilError):
    """Not one record verifies: the home key is not the one these devices use."""


@dataclass
class Reading:
    """One recovered real reading."""

    dev: str
    boot: int
    seq: int
    ts: int
    values: tuple[int, ...]
    mask: int  # stand-in channels
    drops: int = 0  # the device's drop report (records it dropped, protocol 4.4)


@dataclass
class DeviceReport:
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(FINDINGS, 0))
    skipped_at_reboot: int = 0
    dropped_by_device: int = 0  # records of any track, the sum of the drop reports


@dataclass
class Report:
    """What decode found, per device, plus examples of each problem (origin and reason)."""

    devices: dict[str, DeviceReport] = field(default_factory=lambda: defaultdict(DeviceReport))
    examples: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))

    def note(self, dev: str, finding: str, example: str | None = None) -> None:
        self.devices[dev].counts[finding] += 1
        if example and len(self.examples[finding]) < 5:
            self.examples[finding].append(example)

    def total(self, finding: str) -> int:
        return sum(d.counts[finding] for d in self.devices.values())

    @property
    def clean(self) -> bool:
        return not any(self.total(p) for p in PROBLEMS)

    def to_json(self) -> dict:
        return {
            "clean": self.clean,
            "devices": {
                dev: dict(
                    d.counts,
                    skipped_at_reboot=d.skipped_at_reboot,
                    dropped_by_device=d.dropped_by_device,
                )
                for dev, d in sorted(self.devices.items())
            },
            "examples": dict(self.examples),
        }


class Decoder:
    """Feed records in arrival order with `add()`, then `finish()` once."""

    def __init__(self, keys: HomeKeys, specs: dict[str, DeviceSpec]):
        self.keys = keys
        self.specs = specs
        self.packers = {name: CanonicalPacker(spec) for name, spec in specs.items()}
        self.report = Report()
        self.readings: dict[tuple, Reading] = {}
        self._verified: set[tuple] = set()
        self._failed: list[tuple[str, Record]] = []
        self._last: dict[str, tuple[int, int]] = {}

    def add(self, origin: str, item: Record | Rejected) -> None:
        if isinstance(item, Rejected):
            self.report.note(UNPARSED, "malformed", f"{origin}: {item.reason}")
            return
        rec = item
        spec = self.specs.get(rec.dev)
        if spec is None or rec.trk >= spec.k:
            what = "unknown device" if spec is None else f"no track {rec.trk}"
            self.report.note(rec.dev if spec else UNPARSED, "injected", f"{origin}: {what}")
            return
        packer = self.packers[rec.dev]
        real = rec.trk == self.keys.real_track(spec, rec.ep)
        try:
            values = packer.values(rec)
            fields = (rec.ep, rec.boot, rec.seq, rec.trk, rec.ts, values)
            hidden = check_tag(
                self.keys.real if real else self.keys.fake, packer, bytes.fromhex(rec.tag), *fields
            )
        except MalformedRecord as e:
            self.report.note(rec.dev, "malformed", f"{origin}: {e}")
            return
        if hidden is None:
            self._failed.append((origin, rec))
            return
        slot = rec.slot
        if slot in self._verified:
            self.report.note(rec.dev, "duplicated", f"{origin}: seq {rec.seq} track {rec.trk}")
            return
        self._verified.add(slot)
        self.report.note(rec.dev, "verified_real" if real else "verified_fake")
        if not real:
            return
        mask, drops = split_hidden(hidden)
        if mask:
            self.report.note(rec.dev, "stand_in")
        self.report.devices[rec.dev].dropped_by_device += drops
        order = (rec.boot, rec.seq)
        if order < self._last.get(rec.dev, order):
            self.report.note(rec.dev, "reordered")
        self._last[rec.dev] = max(order, self._last.get(rec.dev, order))
        key = (rec.dev, rec.ep, rec.boot, rec.seq)
        self.readings[key] = Reading(rec.dev, rec.boot, rec.seq, rec.ts, values, mask, drops)

    @property
    def unverified(self) -> int:
        """Records whose tag failed so far (classified by finish())."""
        return len(self._failed)

    def finish(self) -> Report:
        """Classify failed tags, count gaps; raises WrongKeyError if nothing verified."""
        verified = self.report.total("verified_real") + self.report.total("verified_fake")
        if self._failed and not verified:
            raise WrongKeyError(
                f"none of {len(self._failed)} records verifies with this home key: "
                "wrong key, or these devices belong to another home"
            )
        ranges: dict[tuple, tuple[int, int]] = {}
        for dev, ep, boot, seq, _trk in self._verified:
            lo, hi = ranges.get((dev, ep, boot), (seq, seq))
            ranges[(dev, ep, boot)] = (min(lo, seq), max(hi, seq))
        altered_slots = set()
        for origin, rec in self._failed:
            slot = rec.slot
            lo, hi = ranges.get((rec.dev, rec.ep, rec.boot), (1, 0))
            if slot in self._verified or slot in altered_slots or not lo <= rec.seq <= hi:
                self.report.note(rec.dev, "injected", f"{origin}: seq {rec.seq} track {rec.trk}")
            else:
                altered_slots.add(slot)
                self.report.note(rec.dev, "altered", f"{origin}: seq {rec.seq} track {rec.trk}")
        self._count_gaps(altered_slots)
        self._count_repeated_times()
        return self.report

    def _count_repeated_times(self) -> None:
        """Real readings at a time a reading of an earlier boot of the device already has: a
        board that replayed its data again under a new boot, or whose clock went back at a
        reboot. Each verifies, but the CSV would hold two readings for one moment. (Within a
        boot a time may repeat: times are whole seconds, and a board may tick faster.)"""
        first: dict[tuple[str, int], Reading] = {}
        for key in sorted(self.readings, key=lambda k: (k[0], k[2], k[3])):
            r = self.readings[key]
            seen = first.setdefault((r.dev, r.ts), r)
            if seen.boot != r.boot:
                when = dt.datetime.fromtimestamp(r.ts, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
                self.report.note(
                    r.dev,
                    "repeated_time",
                    f"{r.dev} boot {r.boot} seq {r.seq} at {when}, "
                    f"as boot {seen.boot} seq {seen.seq}",
                )

    def _count_gaps(self, altered_slots: set) -> None:
        """Missing = real-track sequence numbers absent inside one boot's run, less those the
        device reported dropping; the numbers between one boot's last record and the next
        boot's first were skipped by the reboot."""
        runs: dict[tuple, set[int]] = defaultdict(set)
        for dev, ep, boot, seq in self.readings:
            runs[(dev, ep, boot)].add(seq)
        for dev, ep, boot, seq, trk in altered_slots:
            if trk == self.keys.real_track(self.specs[dev], ep):
                runs[(dev, ep, boot)].add(seq)
        dropped = self._explained_by_drops(runs, altered_slots)
        previous_end: dict[str, int] = {}
        for (dev, ep, boot), seqs in sorted(runs.items(), key=_run_order):
            ordered = sorted(seqs)
            lo, hi = ordered[0], ordered[-1]
            for a, b in pairwise(ordered):
                gap = [s for s in range(a + 1, b) if (dev, ep, boot, s) not in dropped]
                self.report.devices[dev].counts["missing_dropped"] += b - a - 1 - len(gap)
                if gap:
                    span = f"{gap[0]}" if len(gap) == 1 else f"{gap[0]}-{gap[-1]}"
                    self.report.note(dev, "missing", f"{dev} boot {boot} seq {span}")
                    self.report.devices[dev].counts["missing"] += len(gap) - 1
            if dev in previous_end:
                self.report.devices[dev].skipped_at_reboot += max(0, lo - previous_end[dev] - 1)
            previous_end[dev] = hi

    def _explained_by_drops(self, runs: dict, altered_slots: set) -> set[tuple]:
        """The real records, as (dev, ep, boot, seq), that the device reported dropping.

        Walk each device's slots in publishing order (seq rises across boots); every slot of
        any track with no verified or altered record, inside a run, waits in line until a
        later real record's drop report explains it: reports concern records queued before
        them, and the outbox drops the oldest first (protocol 4.4)."""
        reports: dict[str, list[tuple[int, int]]] = defaultdict(list)
        for (dev, _ep, _boot, seq), r in self.readings.items():
            if r.drops:
                reports[dev].append((seq, r.drops))
        explained: set[tuple] = set()
        if not reports:
            return explained
        present = self._verified | altered_slots
        for dev, dev_reports in reports.items():
            k = self.specs[dev].k
            holes = []  # (seq, ep, boot, trk) in publishing order
            for (d, ep, boot), seqs in sorted(runs.items(), key=_run_order):
                if d != dev:
                    continue
                for seq in range(min(seqs), max(seqs) + 1):
                    holes += [
                        (seq, ep, boot, t)
                        for t in range(k)
                        if (dev, ep, boot, seq, t) not in present
                    ]
            before = upto = 0  # holes before the report; holes explained (always the first)
            for seq, drops in sorted(dev_reports):
                while before < len(holes) and holes[before][0] < seq:
                    before += 1
                upto = min(before, upto + drops)
            for hole_seq, ep, boot, trk in holes[:upto]:
                if trk == self.keys.real_track(self.specs[dev], ep):
                    explained.add((dev, ep, boot, hole_seq))
        return explained


def _run_order(item):
    (dev, _ep, _boot), seqs = item
    return dev, min(seqs)


def decode(
    keys: HomeKeys, specs: dict[str, DeviceSpec], items: Iterable[tuple[str, Record | Rejected]]
) -> tuple[list[Reading], Report]:
    """Decode a whole feed: the real readings in (device, boot, seq) order and the report."""
    dec = Decoder(keys, specs)
    for origin, item in items:
        dec.add(origin, item)
    report = dec.finish()
    readings = [dec.readings[k] for k in sorted(dec.readings, key=lambda k: (k[0], k[2], k[3]))]
    return readings, report


def csv_header(specs: dict[str, DeviceSpec]) -> list[str]:
    """Columns of the real-readings CSV: device, boot, seq, time, every channel, stand-ins."""
    names: list[str] = []
    for spec in specs.values():
        names += [c.name for c in spec.channels if c.name not in names]
    return ["device", "boot", "seq", "time", *names, "stand_in"]


def csv_row(r: Reading, spec: DeviceSpec, header: list[str]) -> list:
    """One reading as a CSV row; a stand-in channel's cell is left empty (no real reading)."""
    cells = dict.fromkeys(header[4:-1], "")
    stand_in = []
    for i, (c, n) in enumerate(zip(spec.channels, r.values, strict=True)):
        if r.mask >> i & 1:
            stand_in.append(c.name)
        else:
            cells[c.name] = format_value(n, c.dec)
    when = dt.datetime.fromtimestamp(r.ts, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return [r.dev, r.boot, r.seq, when, *cells.values(), " ".join(stand_in)]


def write_csv(path: str | Path, readings: list[Reading], specs: dict[str, DeviceSpec]) -> int:
    """Write the real readings: device, boot, seq, time (UTC), one column per channel, and the
    channels that were stand-ins (their cells are left empty: there was no real reading)."""
    header = csv_header(specs)
    with Path(path).open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        for r in readings:
            w.writerow(csv_row(r, specs[r.dev], header))
    return len(readings)
