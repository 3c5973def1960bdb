"""Owner-side decode: pick out the real track of every device with the home key, verify every
record's tag, and account for every record that is not a clean, first copy of itself.

The rules are those of docs/protocol.md section 6. Recovered readings are keyed by their slot,
so loss, duplication and reordering in transit never change what comes out.

The decoder works on batches of columns (columns.py): a batch's canonical bytes are built as
one numpy array and its tags checked in one call (native.py), and what the report needs is
kept as compact arrays, so Python touches a batch, not a record. The accounting (duplicates,
order, ranges, gaps) is done by finish() over those arrays; only anomalies (a gap, a failed
tag, a reboot) are walked one by one.
"""

from __future__ import annotations

import csv
import datetime as dt
from bisect import bisect_right
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import VeilError
from ..feed import Rejected
from ..protocol import (
    DAY_S,
    DAY_START_S,
    MAX_CHANNELS,
    MAX_U32,
    RESERVE,
    VERSIONS,
    DeviceSpec,
    HomeKeys,
    Record,
    format_value,
)
from .columns import BATCH, Batch, Group, Layouts, Origins, items_batch, record_batches
from .native import IMPLEMENTATION, check_tags

# Findings that mean the data was tampered with or lost (decode exits non-zero on these).
PROBLEMS = (
    "altered",
    "injected",
    "reused_slot",  # a slot holding two different verified records: the device lost its state
    "missing",  # real records
    "missing_fake",  # fake records: the platform lost or hid them all the same
    "missing_boot",  # boots with no record at all, between boots that have some
    "malformed",
    "repeated_time",  # real readings at a time an earlier boot already had (a replay)
)
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
    verifier: str = IMPLEMENTATION  # what checked the tags (every record's, real and fake)

    def note(self, dev: str, finding: str, example: str | None = None, n: int = 1) -> None:
        """Count `n` of `finding` for `dev`; keep `example` among the first five."""
        self.devices[dev].counts[finding] += n
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
            "verified": "every record, real and fake",
            "verifier": self.verifier,
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


_OK = np.dtype(
    [
        ("g", "i8"),  # arrival number in the whole feed
        ("ep", "u4"),
        ("boot", "u4"),
        ("seq", "i8"),
        ("trk", "u1"),
        ("ts", "u4"),
        ("v", "u1"),
        ("real", "?"),
        ("hidden", "u4"),
        ("t0", "u8"),  # the tag, for telling a duplicate from a reused slot
        ("t1", "u8"),
    ]
)
_FAILED = np.dtype([(f, "i8") for f in ("g", "ep", "boot", "seq", "trk", "ts", "v")])
_MASK = (1 << MAX_CHANNELS) - 1
_SLOT = ("ep", "boot", "seq", "trk")


class _Canon:
    """Canonical bytes C(0) (protocol 4.1) of a batch of one device's records: one numpy row
    per record, its fields big-endian in the order of the definition, so rows are the bytes."""

    def __init__(self, spec: DeviceSpec):
        d = spec.device.encode()
        fields = [("magic", "S4"), ("v", "u1"), ("hidden", ">u4"), ("dev", f"S{len(d) + 1}")]
        fields += [("ep", ">u4"), ("boot", ">u4"), ("seq", ">u8"), ("trk", "u1"), ("k", "u1")]
        fields += [("ts", ">u4"), ("nch", "u1")]
        self.const = {"magic": b"veil", "dev": bytes((len(d),)) + d, "k": spec.k}
        self.const["nch"] = len(spec.channels)
        for j, c in enumerate(spec.channels):
            prefix = bytes((len(c.name),)) + c.name.encode() + bytes((c.dec,))
            fields += [(f"p{j}", f"S{len(prefix)}"), (f"n{j}", ">i4")]
            self.const[f"p{j}"] = prefix
        self.dtype = np.dtype(fields)

    def build(self, cols: dict[str, np.ndarray], values: np.ndarray) -> np.ndarray:
        rows = np.zeros(len(values), dtype=self.dtype)
        for name, x in self.const.items():
            rows[name] = x
        for name in ("v", "ep", "boot", "seq", "trk", "ts"):
            rows[name] = cols[name]
        for j in range(values.shape[1]):
            rows[f"n{j}"] = values[:, j]
        return rows.view(np.uint8).reshape(len(rows), self.dtype.itemsize)


def _in_range(cols: dict[str, np.ndarray]) -> np.ndarray:
    """Records whose fields fit their canonical widths (a store's rows are not checked)."""
    ok = np.isin(cols["v"], VERSIONS) & (cols["trk"] >= 0) & (cols["seq"] >= 0)
    for f in ("ep", "boot", "ts"):
        ok &= (cols[f] >= 0) & (cols[f] <= MAX_U32)
    return ok


def real_tracks(keys: HomeKeys, spec: DeviceSpec, ep, ts, v) -> np.ndarray:
    """The real track of records of `spec` by their epoch, time and version (section 3),
    worked out once per epoch and household day."""
    ep, ts, v = (np.asarray(a, dtype=np.int64) for a in (ep, ts, v))
    if not len(ep):
        return np.zeros(0, dtype=np.int64)
    day = np.where(v >= 2, (ts + spec.tz - DAY_START_S) // DAY_S + 1, 0)
    key = ep << 20 | day << 2 | (v & 3)
    _, first, inv = np.unique(key, return_index=True, return_inverse=True)
    got = [keys.real_track(spec, int(ep[i]), ts=int(ts[i]), v=int(v[i])) for i in first]
    return np.asarray(got, dtype=np.int64)[inv.reshape(-1)]


def _slot_groups(*cols: np.ndarray, then: tuple = ()) -> tuple[np.ndarray, np.ndarray]:
    """(order, start): rows sorted by the columns, then by `then` and their own order, and
    where each group of equal values of the columns starts in that order."""
    order = np.lexsort((np.arange(len(cols[0])), *reversed(then), *reversed(cols)))
    start = np.ones(len(order), dtype=bool)
    if len(order) > 1:
        same = np.ones(len(order) - 1, dtype=bool)
        for c in cols:
            s = c[order]
            same &= s[1:] == s[:-1]
        start[1:] = ~same
    return order, start


def _heads(order: np.ndarray, start: np.ndarray) -> np.ndarray:
    """For every row, the row that comes first in its group (_slot_groups)."""
    head = np.empty(len(order), dtype=np.int64)
    head[order] = order[np.flatnonzero(start)[np.cumsum(start) - 1]]
    return head


@dataclass
class _Events:
    """Findings noted in bulk: per finding and device the arrival numbers `g` of its events
    and how to word the i-th one's example."""

    sets: list[tuple[str, str, np.ndarray, Callable[[int], str]]] = field(default_factory=list)

    def add(self, finding: str, dev: str, g, text: Callable[[int], str]) -> None:
        g = np.asarray(g, dtype=np.int64)
        if len(g):
            self.sets.append((finding, dev, g, text))

    def note(self, report: Report) -> None:
        """Report.note() of every event in arrival order: counts, and the first five examples
        of each finding, findings in the order their first example came."""
        firsts = []
        for n, (finding, dev, g, _text) in enumerate(self.sets):
            report.devices[dev].counts[finding] += len(g)
            for i in np.argsort(g, kind="stable")[:5]:
                firsts.append((int(g[i]), n, int(i)))
        for _g, n, i in sorted(firsts):
            finding, _dev, _g_all, text = self.sets[n]
            if len(report.examples[finding]) < 5:
                report.examples[finding].append(text(i))


@dataclass
class _Device:
    """What finish() needs of one device's records, as arrays in arrival order."""

    ok: list[np.ndarray] = field(default_factory=list)  # verified tags (any copy)
    values: list[np.ndarray] = field(default_factory=list)  # readings of the real ones in ok
    failed: list[np.ndarray] = field(default_factory=list)  # tags that did not verify
    no_track: list[tuple[int, int]] = field(default_factory=list)  # (g, trk)
    malformed: list[tuple[int, int, int, str]] = field(default_factory=list)  # (g, seq, trk, why)

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The batches' arrays joined, each list then holding the joined array alone (so that
        the parts are not held twice, and a later finish() joins only what came since)."""
        ok = _joined(self.ok) if self.ok else np.zeros(0, dtype=_OK)
        failed = _joined(self.failed) if self.failed else np.zeros(0, dtype=_FAILED)
        values = _joined(self.values) if self.values else None
        return ok, values, failed


def _joined(parts: list[np.ndarray]) -> np.ndarray:
    if len(parts) > 1:
        parts[:] = [np.concatenate(parts)]
    return parts[0]


@dataclass
class ReadingColumns:
    """One device's recovered real readings as arrays, in (boot, seq) order."""

    dev: str
    boot: np.ndarray
    seq: np.ndarray
    ts: np.ndarray
    values: np.ndarray  # (n, channels)
    mask: np.ndarray
    drops: np.ndarray

    def readings(self) -> list[Reading]:
        return [
            Reading(self.dev, b, s, t, tuple(v), m, d)
            for b, s, t, v, m, d in zip(
                self.boot.tolist(),
                self.seq.tolist(),
                self.ts.tolist(),
                self.values.tolist(),
                self.mask.tolist(),
                self.drops.tolist(),
                strict=True,
            )
        ]


class Decoder:
    """Feed batches of records in arrival order with add_batch() (or add_items()), then
    finish(); finish() may be called again after more batches (a live decode's report)."""

    def __init__(self, keys: HomeKeys, specs: dict[str, DeviceSpec]):
        self.keys = keys
        self.specs = specs
        self.layouts = Layouts(specs)
        self._canon = {name: _Canon(spec) for name, spec in specs.items()}
        self._n = 0  # items so far: the arrival number of the next one
        self._origins: list[tuple[int, Origins]] = []
        self._devices: dict[str, _Device] = {}
        self._malformed: list[tuple[int, str]] = []
        self._unknown: list[int] = []
        self._failed = 0
        self.readings: list[ReadingColumns] = []  # set by finish()

    def _origin(self, g: int) -> str:
        i = bisect_right(self._origins, g, key=lambda o: o[0]) - 1
        start, origins = self._origins[i]
        return origins(g - start)

    def add_batch(self, batch: Batch) -> None:
        """Check a batch's tags and keep what the report needs of its records."""
        g0 = self._n
        self._n += batch.n
        self._origins.append((g0, batch.origins))
        self._malformed += [(g0 + p, reason) for p, reason in batch.rejected]
        self._unknown += [g0 + p for p in batch.unknown]
        for dev, group in batch.groups.items():
            self._add_group(dev, group, g0)

    def _add_group(self, dev: str, g: Group, g0: int) -> None:
        spec = self.specs[dev]
        state = self._devices.setdefault(dev, _Device())
        arrival = g0 + g.pos
        cols = g.cols
        has_track = cols["trk"] < spec.k
        if not has_track.all():
            state.no_track += zip(
                arrival[~has_track].tolist(), cols["trk"][~has_track].tolist(), strict=True
            )
        malformed = np.zeros(len(g), dtype=bool)
        if g.why is not None:
            malformed = has_track & (g.why != None)  # noqa: E711  (elementwise)
            at = np.flatnonzero(malformed)
            state.malformed += zip(
                arrival[at].tolist(),
                cols["seq"][at].tolist(),
                cols["trk"][at].tolist(),
                g.why[at].tolist(),
                strict=True,
            )
        idx = np.flatnonzero(has_track & g.fit & _in_range(cols))
        sub = {f: c[idx] for f, c in cols.items()}
        real = sub["trk"] == real_tracks(self.keys, spec, sub["ep"], sub["ts"], sub["v"])
        canon = self._canon[dev].build(sub, g.values[idx])
        ok, hidden = check_tags(canon, g.tags[idx], real, self.keys.real, self.keys.fake)
        good = idx[ok]
        rec = np.zeros(len(good), dtype=_OK)
        rec["g"] = arrival[good]
        for f in ("ep", "boot", "seq", "trk", "ts", "v"):
            rec[f] = cols[f][good]
        rec["real"] = real[ok]
        rec["hidden"] = hidden[ok]
        tags = np.ascontiguousarray(g.tags[good]).view(">u8").reshape(len(good), 2)
        rec["t0"], rec["t1"] = tags[:, 0], tags[:, 1]
        state.ok.append(rec)
        state.values.append(g.values[good][real[ok]].astype(np.int32))
        verified = np.zeros(len(g), dtype=bool)
        verified[good] = True
        bad = np.flatnonzero(has_track & ~verified & ~malformed)
        if len(bad):
            fail = np.zeros(len(bad), dtype=_FAILED)
            fail["g"] = arrival[bad]
            for f in ("ep", "boot", "seq", "trk", "ts", "v"):
                fail[f] = cols[f][bad]
            state.failed.append(fail)
            self._failed += len(bad)

    def add_items(self, items: list[tuple[str, Record | Rejected]]) -> list[tuple[tuple, Reading]]:
        """A batch of (origin, Record or Rejected) as messages arrive; returns the real
        readings among them whose tags verify, in arrival order, each with its tick (dev, ep,
        boot, seq): a tick's may come again (a live view shows each tick once)."""
        if not items:
            return []
        before = {d: len(s.ok) for d, s in self._devices.items()}
        self.add_batch(items_batch(self.layouts, items))
        got = []
        for dev, s in self._devices.items():
            n = before.get(dev, 0)
            for rec, values in zip(s.ok[n:], s.values[n:], strict=True):
                real = rec[rec["real"]].tolist()
                for r, v in zip(real, values.tolist(), strict=True):
                    got.append((r[0], (dev, r[1], r[2], r[3]), _reading(dev, r, v)))
        return [(tick, r) for _g, tick, r in sorted(got, key=lambda x: x[0])]

    @property
    def unverified(self) -> int:
        """Records whose tag failed so far (classified by finish())."""
        return self._failed

    def finish(self) -> Report:
        """The report of everything added so far; raises WrongKeyError if nothing verified.
        Sets `readings`: the real readings, per device (devices by name), in (boot, seq)
        order."""
        report = Report()
        added = _Events()
        for p, reason in self._malformed:
            added.add(
                "malformed", UNPARSED, [p], lambda _i, p=p, r=reason: f"{self._origin(p)}: {r}"
            )
        unknown = self._unknown
        added.add(
            "injected", UNPARSED, unknown, lambda i: f"{self._origin(unknown[i])}: unknown device"
        )
        devs = {dev: state.arrays() for dev, state in self._devices.items()}
        for dev, state in self._devices.items():
            if state.no_track:
                g, trk = zip(*state.no_track, strict=True)
                text = lambda i, g=g, trk=trk: f"{self._origin(g[i])}: no track {trk[i]}"  # noqa: E731
                added.add("injected", dev, g, text)
            if state.malformed:
                added.add("malformed", dev, [m[0] for m in state.malformed], self._why(state))
        if self._failed and not any(len(ok) for ok, _v, _f in devs.values()):
            raise WrongKeyError(
                f"none of {self._failed} records verifies with this home key: "
                "wrong key, or these devices belong to another home"
            )
        firsts, readings = {}, {}
        for dev, (ok, values, _failed) in devs.items():
            if len(ok):
                first = self._first_copies(report, added, dev, ok)
                firsts[dev] = ok[first]
                readings[dev] = _readings(dev, ok, values, first)
        added.note(report)
        classified = _Events()
        altered = {}
        for dev, (_ok, _v, failed) in devs.items():
            if len(failed):
                altered[dev] = self._classify(classified, dev, firsts.get(dev), failed)
        classified.note(report)
        order = sorted((int(f["g"][0]), dev) for dev, f in firsts.items())
        gaps = {dev: self._gaps(report, dev, firsts[dev], altered.get(dev)) for _g, dev in order}
        for _g, dev in order:
            r = readings[dev]
            reports = sorted(
                (s, d) for s, d in zip(r.seq.tolist(), r.drops.tolist(), strict=True) if d
            )
            self._count(report, dev, gaps[dev], reports)
        self.readings = [readings[d] for d in sorted(readings) if len(readings[d].seq)]
        for r in self.readings:
            _repeated_times(report, r)
        return report

    def _why(self, state: _Device) -> Callable[[int], str]:
        """The example of the i-th malformed record of a device: where, seq, track, why."""

        def text(i: int) -> str:
            g, seq, trk, why = state.malformed[i]
            return f"{self._origin(g)}: seq {seq} track {trk}: {why}"

        return text

    def _first_copies(self, report: Report, added: _Events, dev: str, ok: np.ndarray):
        """Which verified records are the first copy of their slot (the others are duplicated
        or reused slots); counts verified, reordered, stand-ins and drops."""
        order, start = _slot_groups(ok["ep"], ok["boot"], ok["seq"], ok["trk"])
        first = np.zeros(len(ok), dtype=bool)
        first[order[start]] = True
        head = _heads(order, start)  # each record's first copy
        again = np.flatnonzero(~first)
        if len(again):
            same = (ok["t0"][again] == ok["t0"][head[again]]) & (
                ok["t1"][again] == ok["t1"][head[again]]
            )
            for finding, rows, tail in (
                ("duplicated", again[same], ""),
                ("reused_slot", again[~same], " published twice, differently"),
            ):
                added.add(
                    finding, dev, ok["g"][rows], lambda i, r=rows, t=tail: _at(self, ok, r[i]) + t
                )
        f = ok[first]
        counts = report.devices[dev].counts
        counts["verified_real"] += int(f["real"].sum())
        counts["verified_fake"] += int((~f["real"]).sum())
        if len(f) > 1:
            later = f["seq"][1:] < np.maximum.accumulate(f["seq"])[:-1]
            counts["reordered"] += int(later.sum())
        real = f[f["real"]]
        counts["stand_in"] += int(((real["hidden"] & _MASK) != 0).sum())
        report.devices[dev].dropped_by_device += int((real["hidden"] >> MAX_CHANNELS).sum())
        return first

    def _classify(self, events: _Events, dev: str, first, failed: np.ndarray) -> np.ndarray:
        """Failed records, in arrival order: altered if no verified record fills the slot, no
        earlier failed one was altered there, and the seq lies in its boot's range; else
        injected (protocol section 6). Returns the altered ones."""
        member = np.zeros(len(failed), dtype=bool)
        lo = np.ones(len(failed), dtype=np.int64)
        hi = np.zeros(len(failed), dtype=np.int64)
        if first is not None and len(first):
            n = len(first)
            both = [np.concatenate([first[f].astype(np.int64), failed[f]]) for f in _SLOT]
            src = np.r_[np.zeros(n, dtype=np.int64), np.ones(len(failed), dtype=np.int64)]
            member = _heads(*_slot_groups(*both, then=(src,)))[n:] < n  # a verified one first
            run = first["ep"].astype(np.int64) << 32 | first["boot"].astype(np.int64)
            runs, inv = np.unique(run, return_inverse=True)
            low = np.full(len(runs), np.iinfo(np.int64).max)
            high = np.full(len(runs), -1)
            np.minimum.at(low, inv, first["seq"])
            np.maximum.at(high, inv, first["seq"])
            fits = (failed["ep"] >= 0) & (failed["ep"] <= MAX_U32)
            fits &= (failed["boot"] >= 0) & (failed["boot"] <= MAX_U32)
            key = np.where(fits, failed["ep"] << 32 | failed["boot"], -1)
            at = np.clip(np.searchsorted(runs, key), 0, len(runs) - 1)
            known = fits & (runs[at] == key)
            lo = np.where(known, low[at], 1)
            hi = np.where(known, high[at], 0)
        taken: set[tuple] = set()
        injected, altered = [], []
        rows = failed.tolist()
        for i, (_g, ep, boot, seq, trk, _ts, _v) in enumerate(rows):
            slot = (ep, boot, seq, trk)
            if member[i] or slot in taken or not lo[i] <= seq <= hi[i]:
                injected.append(i)
            else:
                taken.add(slot)
                altered.append(i)
        for finding, picked in (("injected", injected), ("altered", altered)):
            events.add(
                finding, dev, failed["g"][picked], lambda i, p=picked: _at(self, failed, p[i])
            )
        return failed[altered]

    def _gaps(self, report: Report, dev: str, first: np.ndarray, altered) -> list[_Gap]:
        """The device's missing records, as gaps in publishing order.

        A boot's range runs from the first to the last `seq` of any of its verified (or
        altered) records, whatever the track; inside it every slot should hold a record.
        Between one boot's last tick and the next one's first, each reboot skips at most R
        numbers (protocol section 5): the rest of the gap was lost, and boot numbers in
        between that left no record at all are missing boots."""
        spec = self.specs[dev]
        k = spec.k
        every = tuple(range(k))
        parts = [first] if altered is None or not len(altered) else [first, altered]
        cols = {
            f: np.concatenate([p[f].astype(np.int64) for p in parts])
            for f in ("g", "ep", "boot", "seq", "trk", "ts", "v")
        }
        src = np.concatenate([np.full(len(p), n, dtype=np.int64) for n, p in enumerate(parts)])
        # a tick's time is its earliest verified record's, else its earliest altered one's
        order = np.lexsort((cols["g"], src, cols["seq"], cols["boot"], cols["ep"]))
        s = {f: c[order] for f, c in cols.items()}
        tick = _starts(s, None, ("ep", "boot", "seq"))
        at = np.flatnonzero(tick)
        mask = np.bitwise_or.reduceat(np.left_shift(1, s["trk"]), at)
        t = {f: s[f][at] for f in ("ep", "boot", "seq", "ts", "v")}
        have = np.zeros(len(at), dtype=np.int64)
        for x in every:
            have += mask >> x & 1
        real = real_tracks(self.keys, spec, t["ep"], t["ts"], t["v"])
        run = _starts(t, None, ("ep", "boot"))
        run_at = np.flatnonzero(run)
        run_end = np.r_[run_at[1:], len(at)]
        g_verified = np.where(src[order] == 0, s["g"], np.iinfo(np.int64).max)
        run_g = np.minimum.reduceat(g_verified, at[run_at])
        ordered = sorted(
            range(len(run_at)), key=lambda r: (int(t["seq"][run_at[r]]), int(run_g[r]))
        )
        head = run_at[ordered[0]]
        tail = run_end[ordered[-1]] - 1
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
        for r in ordered:
            a, b = int(run_at[r]), int(run_end[r])
            boot = int(t["boot"][a])
            where = f"boot {boot}"
            seqs = t["seq"][a:b]
            if before:
                self._reboot(report, dev, spec, before, boot, int(seqs[0]), gap)
            jumps = (np.flatnonzero(seqs[1:] > seqs[:-1] + 1) + 1).tolist()
            short = np.flatnonzero(have[a:b] < k).tolist()
            for i, kind in sorted([(i, 0) for i in jumps] + [(i, 1) for i in short]):
                if kind == 0:  # whole ticks missing
                    n = int(seqs[i] - seqs[i - 1] - 1)
                    gap(int(seqs[i - 1]) + 1, n, every, int(real[a + i - 1]), where)
                    continue
                m = int(mask[a + i])
                present = [x for x in every if m >> x & 1]
                # the feed may start after the first tracks of its first tick and end
                # before the last ones of its last tick (records go out in track order)
                lo = min(present) if a + i == head else 0
                hi = max(present) if a + i == tail else k - 1
                holes = tuple(x for x in every if lo <= x <= hi and not m >> x & 1)
                if holes:
                    gap(int(seqs[i]), 1, holes, int(real[a + i]), where)
            before = (boot, int(seqs[-1]), int(real[b - 1]))
        return gaps

    def _reboot(self, report, dev, spec, before, boot, first, gap) -> None:
        """Account for the sequence numbers between two boots' runs of `dev`."""
        last_boot, last, real = before
        reboots = max(1, boot - last_boot)
        between = first - last - 1
        skipped = min(between, reboots * RESERVE)
        report.devices[dev].skipped_at_reboot += skipped
        if reboots > 1:
            gone = f"{last_boot + 1}" if reboots == 2 else f"{last_boot + 1}-{boot - 1}"
            report.note(dev, "missing_boot", f"{dev} boot {gone}: no record", n=reboots - 1)
        if between > skipped:
            where = f"between boot {last_boot} and boot {boot}"
            gap(last + 1, between - skipped, tuple(range(spec.k)), real, where)

    def _count(self, report, dev: str, gaps: list[_Gap], reports: list[tuple[int, int]]) -> None:
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
        counts = report.devices[dev].counts
        for g in gaps:
            explained = min(upto, g.holes)
            upto -= explained
            real, real_explained = g.real_ticks(explained)
            counts["missing_dropped"] += real_explained
            if real > real_explained:  # the gap's first real_explained ticks are explained
                span = f"{dev} {g.where} seq {g.span(real_explained)}"
                report.note(dev, "missing", span, n=real - real_explained)
            fakes = g.holes - explained - (real - real_explained)
            if fakes > 0:
                span = f"{dev} {g.where} seq {g.span()}: {fakes} fake records"
                report.note(dev, "missing_fake", span, n=fakes)


def _repeated_times(report: Report, r: ReadingColumns) -> None:
    """Real readings at a time a reading of an earlier boot of the device already has: a
    board that replayed its data again under a new boot, or whose clock went back at a
    reboot. Each verifies, but the CSV would hold two readings for one moment. (Within a
    boot a time may repeat: times are whole seconds, and a board may tick faster.) Readings
    are taken in (boot, seq) order; each is held to the first one of its time."""
    if not len(r.ts):
        return
    _, first, inv = np.unique(r.ts, return_index=True, return_inverse=True)
    seen = first[inv.reshape(-1)]
    again = np.flatnonzero(r.boot[seen] != r.boot)
    if not len(again):
        return
    report.devices[r.dev].counts["repeated_time"] += len(again)
    for i, j in zip(again[:5].tolist(), seen[again[:5]].tolist(), strict=True):
        when = dt.datetime.fromtimestamp(int(r.ts[i]), dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        example = f"{r.dev} boot {r.boot[i]} seq {r.seq[i]} at {when}, "
        report.note(r.dev, "repeated_time", example + f"as boot {r.boot[j]} seq {r.seq[j]}", n=0)


def _starts(cols: dict[str, np.ndarray], order, names) -> np.ndarray:
    """Where a new value of the columns `names` starts, rows taken in `order` (None: as
    they are)."""
    n = len(cols[names[0]])
    start = np.ones(n, dtype=bool)
    if n > 1:
        same = np.ones(n - 1, dtype=bool)
        for f in names:
            c = cols[f] if order is None else cols[f][order]
            same &= c[1:] == c[:-1]
        start[1:] = ~same
    return start


def _at(dec: Decoder, rows: np.ndarray, i) -> str:
    """The example of a record: where it came from, its seq and track."""
    r = rows[int(i)]
    return f"{dec._origin(int(r['g']))}: seq {int(r['seq'])} track {int(r['trk'])}"


def _reading(dev: str, r: tuple, values: list[int]) -> Reading:
    """A Reading from a row of _OK (as a tuple) and its values."""
    _g, _ep, boot, seq, _trk, ts, _v, _real, hidden, _t0, _t1 = r
    return Reading(dev, boot, seq, ts, tuple(values), hidden & _MASK, hidden >> MAX_CHANNELS)


def _readings(dev: str, ok: np.ndarray, values: np.ndarray, first: np.ndarray) -> ReadingColumns:
    """The real readings of a device: per tick (ep, boot, seq), the last verified real first
    copy to arrive, in (boot, seq) order, ties in the order their ticks first came."""
    is_real = ok["real"]
    pick = first & is_real
    rec = ok[pick]
    vals = values[first[is_real]] if values is not None else np.zeros((0, 1), np.int32)
    order, start = _slot_groups(rec["ep"], rec["boot"], rec["seq"])
    starts = np.flatnonzero(start)
    ends = np.r_[starts[1:] - 1, len(order) - 1] if len(order) else starts
    last, earliest = order[ends], order[starts]
    ranked = last[np.lexsort((rec["g"][earliest], rec["seq"][last], rec["boot"][last]))]
    r = rec[ranked]
    return ReadingColumns(
        dev,
        r["boot"].astype(np.int64),
        r["seq"],
        r["ts"].astype(np.int64),
        vals[ranked],
        (r["hidden"] & _MASK).astype(np.int64),
        (r["hidden"] >> MAX_CHANNELS).astype(np.int64),
    )


def _batches(layouts: Layouts, items) -> Iterable[Batch]:
    """Batches as given, or made from (origin, Record or Rejected) pairs."""
    items = iter(items)
    head = next(items, None)
    if head is None:
        return
    if isinstance(head, Batch):
        yield head
        yield from items
        return
    yield from record_batches(layouts, _chain1(head, items), BATCH)


def _chain1(head, rest):
    yield head
    yield from rest


def decode_columns(
    keys: HomeKeys, specs: dict[str, DeviceSpec], batches: Iterable
) -> tuple[list[ReadingColumns], Report]:
    """Decode a whole feed, given as Batches (veil.owner.sources) or as (origin, Record or
    Rejected) pairs: the real readings per device as arrays, and the report."""
    dec = Decoder(keys, specs)
    for batch in _batches(dec.layouts, batches):
        dec.add_batch(batch)
    report = dec.finish()
    return dec.readings, report


def decode(
    keys: HomeKeys, specs: dict[str, DeviceSpec], items: Iterable
) -> tuple[list[Reading], Report]:
    """Decode a whole feed: the real readings in (device, boot, seq) order and the report."""
    columns, report = decode_columns(keys, specs, items)
    return [r for c in columns for r in c.readings()], report


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


def write_columns_csv(
    path: str | Path, readings: list[ReadingColumns], specs: dict[str, DeviceSpec]
) -> int:
    """write_csv() of readings given as arrays, BATCH rows of a device's column formatted at
    once (so that the texts in memory are a batch's): the same bytes csv.writer writes (no
    cell here needs quoting)."""
    header = csv_header(specs)
    n = 0
    with Path(path).open("w", newline="") as f:
        csv.writer(f).writerow(header)
        for rc in readings:
            for a in range(0, len(rc.seq), BATCH):
                rows = _csv_rows(rc, a, min(a + BATCH, len(rc.seq)), specs[rc.dev], header)
                f.write("\r\n".join(rows) + "\r\n")
                n += len(rows)
    return n


def _csv_rows(rc: ReadingColumns, a: int, b: int, spec: DeviceSpec, header: list[str]) -> list:
    """The CSV lines of readings a..b-1 of a device, formatted a column at a time."""
    at = {c.name: j for j, c in enumerate(spec.channels)}
    times = np.datetime_as_string(rc.ts[a:b].astype("datetime64[s]"), unit="s").tolist()
    empty = [""] * len(times)
    cols = [[rc.dev] * len(times), list(map(str, rc.boot[a:b].tolist()))]
    cols += [list(map(str, rc.seq[a:b].tolist())), [t + "Z" for t in times]]
    for name in header[4:-1]:
        if name not in at:
            cols.append(empty)
            continue
        dec = spec.channels[at[name]].dec
        x = rc.values[a:b, at[name]]
        cols.append(
            list(map(f"%.{dec}f".__mod__, (x / 10**dec).tolist()))
            if dec
            else list(map(str, x.tolist()))
        )
    cols.append(empty)
    rows = list(map(",".join, zip(*cols, strict=True)))
    for i in np.flatnonzero(rc.mask[a:b]).tolist():  # stand-ins: their cells are empty
        j = a + i
        values = tuple(rc.values[j].tolist())
        r = Reading(rc.dev, int(rc.boot[j]), int(rc.seq[j]), int(rc.ts[j]), values, int(rc.mask[j]))
        rows[i] = ",".join(map(str, csv_row(r, spec, header)))
    return rows
