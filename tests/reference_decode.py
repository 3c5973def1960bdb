"""The record-at-a-time decoder of main before the batch decoder (veil.owner.decode), its
Decoder and decode() as they were there (with the findings repeated_time and a value beyond 32
bits counted malformed), kept as the reference the tests hold the batch decoder to: the same
findings, examples and readings, bit for bit. Not shipped."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import chain

from veil.feed import Rejected, read_feed
from veil.owner.decode import UNPARSED, Reading, Report, WrongKeyError, decode_columns
from veil.owner.sources import read_batches
from veil.protocol import (
    RESERVE,
    CanonicalPacker,
    DeviceSpec,
    HomeKeys,
    MalformedRecord,
    Record,
    check_tag,
    split_hidden,
)


@dataclass
class _Gap:
    """Ticks `first` .. `first + n - 1` of one device that lack their records of `tracks`
    (`real` is the real track of those ticks; `where` names the boot for examples)."""

    first: int
    n: int
    tracks: tuple[int, ...]
    real: int
    where: str

    @property
    def holes(self) -> int:
        return self.n * len(self.tracks)

    def real_ticks(self, explained: int) -> tuple[int, int]:
        """(real records, of them among the first `explained` holes), holes in publishing
        order: tick by tick, tracks in order."""
        if self.real not in self.tracks:
            return 0, 0
        q, rem = divmod(explained, len(self.tracks))
        return self.n, q + (self.real in self.tracks[:rem])

    def span(self, skip: int = 0) -> str:
        a, b = self.first + skip, self.first + self.n - 1
        return f"{a}" if a == b else f"{a}-{b}"


class Decoder:
    """Feed records in arrival order with `add()`, then `finish()` once."""

    def __init__(self, keys: HomeKeys, specs: dict[str, DeviceSpec]):
        self.keys = keys
        self.specs = specs
        self.packers = {name: CanonicalPacker(spec) for name, spec in specs.items()}
        self.report = Report()
        self.readings: dict[tuple, Reading] = {}
        self._verified: dict[tuple, str] = {}  # slot -> tag of its first verified record
        self._ticks: dict[tuple, tuple[int, int]] = {}  # (dev, ep, boot, seq) -> (ts, v)
        self._failed: list[tuple[str, Record]] = []
        self._last: dict[str, int] = {}  # highest seq verified so far, per device

    def _real(self, spec: DeviceSpec, ep: int, ts: int, v: int) -> int:
        return self.keys.real_track(spec, ep, ts=ts, v=v)

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
        real = rec.trk == self._real(spec, rec.ep, rec.ts, rec.v)
        try:
            values = packer.values(rec)
            fields = (rec.ep, rec.boot, rec.seq, rec.trk, rec.ts, values, rec.v)
            key = self.keys.real if real else self.keys.fake
            hidden = check_tag(key, packer, bytes.fromhex(rec.tag), *fields)
        except MalformedRecord as e:  # values no record of this device can have
            self.report.note(rec.dev, "malformed", f"{origin}: seq {rec.seq} track {rec.trk}: {e}")
            return
        if hidden is None:
            self._failed.append((origin, rec))
            return
        slot = rec.slot
        first = self._verified.get(slot)
        if first is not None:
            where = f"{origin}: seq {rec.seq} track {rec.trk}"
            if first == rec.tag:
                self.report.note(rec.dev, "duplicated", where)
            else:
                self.report.note(rec.dev, "reused_slot", f"{where} published twice, differently")
            return
        self._verified[slot] = rec.tag
        self._ticks.setdefault(slot[:4], (rec.ts, rec.v))
        self.report.note(rec.dev, "verified_real" if real else "verified_fake")
        if rec.seq < self._last.get(rec.dev, rec.seq):
            self.report.note(rec.dev, "reordered")
        self._last[rec.dev] = max(rec.seq, self._last.get(rec.dev, rec.seq))
        if not real:
            return
        mask, drops = split_hidden(hidden)
        if mask:
            self.report.note(rec.dev, "stand_in")
        self.report.devices[rec.dev].dropped_by_device += drops
        key = (rec.dev, rec.ep, rec.boot, rec.seq)
        self.readings[key] = Reading(rec.dev, rec.boot, rec.seq, rec.ts, values, mask, drops)

    @property
    def unverified(self) -> int:
        """Records whose tag failed so far (classified by finish())."""
        return len(self._failed)

    def finish(self) -> Report:
        """Classify failed tags, count gaps; raises WrongKeyError if nothing verified."""
        if self._failed and not self._verified:
            raise WrongKeyError(
                f"none of {len(self._failed)} records verifies with this home key: "
                "wrong key, or these devices belong to another home"
            )
        ranges: dict[tuple, tuple[int, int]] = {}
        for dev, ep, boot, seq, _trk in self._verified:
            lo, hi = ranges.get((dev, ep, boot), (seq, seq))
            ranges[(dev, ep, boot)] = (min(lo, seq), max(hi, seq))
        altered: dict[tuple, Record] = {}
        for origin, rec in self._failed:
            slot = rec.slot
            lo, hi = ranges.get((rec.dev, rec.ep, rec.boot), (1, 0))
            if slot in self._verified or slot in altered or not lo <= rec.seq <= hi:
                self.report.note(rec.dev, "injected", f"{origin}: seq {rec.seq} track {rec.trk}")
            else:
                altered[slot] = rec
                self.report.note(rec.dev, "altered", f"{origin}: seq {rec.seq} track {rec.trk}")
        reports: dict[str, list[tuple[int, int]]] = defaultdict(list)
        for r in self.readings.values():
            if r.drops:
                reports[r.dev].append((r.seq, r.drops))
        for dev, gaps in self._gaps(altered).items():
            self._count(dev, gaps, sorted(reports[dev]))
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

    def _gaps(self, altered: dict[tuple, Record]) -> dict[str, list[_Gap]]:
        """Every device's missing records, as gaps in publishing order.

        A boot's range runs from the first to the last `seq` of any of its verified (or
        altered) records, whatever the track; inside it every slot should hold a record.
        Between one boot's last tick and the next one's first, each reboot skips at most R
        numbers (protocol section 5): the rest of the gap was lost, and boot numbers in
        between that left no record at all are missing boots."""
        present: dict[tuple, set[int]] = defaultdict(set)  # tick -> tracks with a record
        when = dict(self._ticks)  # tick -> (ts, v), from a verified record where there is one
        for slot in chain(self._verified, altered):
            present[slot[:4]].add(slot[4])
        for slot, rec in altered.items():
            when.setdefault(slot[:4], (rec.ts, rec.v))
        runs: dict[str, dict[tuple, list[int]]] = defaultdict(lambda: defaultdict(list))
        for dev, ep, boot, seq in present:
            runs[dev][(ep, boot)].append(seq)
        out: dict[str, list[_Gap]] = {}
        for dev, dev_runs in runs.items():
            spec = self.specs[dev]
            every = tuple(range(spec.k))
            gaps: list[_Gap] = []

            def gap(first, n, tracks, real, where, gaps=gaps):
                last = gaps[-1] if gaps else None
                if last and (last.first + last.n, last.tracks, last.real, last.where) == (
                    first,
                    tracks,
                    real,
                    where,
                ):
                    last.n += n
                else:
                    gaps.append(_Gap(first, n, tracks, real, where))

            before = None  # (boot, last seq, its real track) of the previous run
            ordered = sorted(dev_runs.items(), key=lambda r: min(r[1]))
            head, tail = (
                (*ordered[0][0], min(ordered[0][1])),
                (*ordered[-1][0], max(ordered[-1][1])),
            )
            for (ep, boot), seqs in ordered:
                seqs.sort()
                where = f"boot {boot}"
                if before:
                    self._reboot(dev, spec, before, boot, seqs[0], gap)
                real = 0
                for n, seq in enumerate(seqs):
                    ts, v = when[(dev, ep, boot, seq)]
                    if n and seq > seqs[n - 1] + 1:  # whole ticks missing
                        gap(seqs[n - 1] + 1, seq - seqs[n - 1] - 1, every, real, where)
                    real = self._real(spec, ep, ts, v)
                    have = present[(dev, ep, boot, seq)]
                    if len(have) == spec.k:
                        continue
                    # the feed may start after the first tracks of its first tick and end
                    # before the last ones of its last tick (records go out in track order)
                    lo = min(have) if (ep, boot, seq) == head else 0
                    hi = max(have) if (ep, boot, seq) == tail else spec.k - 1
                    holes = tuple(t for t in every if lo <= t <= hi and t not in have)
                    if holes:
                        gap(seq, 1, holes, real, where)
                before = (boot, seqs[-1], real)
            out[dev] = gaps
        return out

    def _reboot(self, dev, spec, before, boot, first, gap) -> None:
        """Account for the sequence numbers between two boots' runs of `dev`."""
        last_boot, last, real = before
        reboots = max(1, boot - last_boot)
        between = first - last - 1
        skipped = min(between, reboots * RESERVE)
        self.report.devices[dev].skipped_at_reboot += skipped
        if reboots > 1:
            gone = f"{last_boot + 1}" if reboots == 2 else f"{last_boot + 1}-{boot - 1}"
            self.report.note(dev, "missing_boot", f"{dev} boot {gone}: no record", n=reboots - 1)
        if between > skipped:
            where = f"between boot {last_boot} and boot {boot}"
            gap(last + 1, between - skipped, tuple(range(spec.k)), real, where)

    def _count(self, dev: str, gaps: list[_Gap], reports: list[tuple[int, int]]) -> None:
        """Count `dev`'s missing records. The earliest holes are explained by the device's drop
        `reports` ((seq, drops) in seq order), each up to its count of the holes before it:
        reports concern records queued before them, and the outbox drops the oldest first
        (protocol 4.4). The other holes are missing, real and fake apart."""
        upto = done = i = 0  # holes explained; holes in gaps[:i]
        for seq, drops in reports:
            while i < len(gaps) and gaps[i].first + gaps[i].n <= seq:
                done += gaps[i].holes
                i += 1
            partial = 0
            if i < len(gaps) and gaps[i].first < seq:
                partial = (seq - gaps[i].first) * len(gaps[i].tracks)
            upto = min(done + partial, upto + drops)
        counts = self.report.devices[dev].counts
        for g in gaps:
            explained = min(upto, g.holes)
            upto -= explained
            real, real_explained = g.real_ticks(explained)
            counts["missing_dropped"] += real_explained
            if real > real_explained:  # the gap's first real_explained ticks are explained
                span = f"{dev} {g.where} seq {g.span(real_explained)}"
                self.report.note(dev, "missing", span, n=real - real_explained)
            fakes = g.holes - explained - (real - real_explained)
            if fakes > 0:
                span = f"{dev} {g.where} seq {g.span()}: {fakes} fake records"
                self.report.note(dev, "missing_fake", span, n=fakes)


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


def same_as_reference(keys: HomeKeys, specs: dict[str, DeviceSpec], feed):
    """Decode the feed file with the batch decoder, assert that its readings, report and
    examples are the reference decoder's, and return them (readings as Readings). A wrong key
    must be a WrongKeyError with the same message from both."""
    try:
        want = decode(keys, specs, read_feed(feed))
    except WrongKeyError as e:
        batches, _ = read_batches(specs, feeds=[feed])
        try:
            decode_columns(keys, specs, batches)
        except WrongKeyError as got:
            assert str(got) == str(e)
            raise
        raise AssertionError("the reference found a wrong key, the batch decoder did not") from e
    batches, _ = read_batches(specs, feeds=[feed])
    columns, report = decode_columns(keys, specs, batches)
    readings = [r for c in columns for r in c.readings()]
    assert report.to_json() == want[1].to_json()
    assert list(report.examples) == list(want[1].examples)  # the order the CLI prints them in
    assert readings == want[0]
    return readings, report
