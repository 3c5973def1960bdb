"""A disguised feed read in batches of columns, for the owner's batch decode (decode.py).

Every source becomes the same `Batch`: per device, the records' fields as numpy arrays, their
readings as integers n (protocol section 4) and their tags as bytes, plus the messages that are
not records. Feed files are parsed with msgspec into one Struct type per device of the home, so
that a line is checked (keys, types, ranges, the device's channels) in compiled code; a batch
in which a line does not fit falls back to the line-at-a-time parser of veil.feed for that line
alone, so every finding and every reason is the one the line would get on its own.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from operator import attrgetter, itemgetter
from pathlib import Path
from typing import Annotated, Literal

import msgspec
import numpy as np

from ..feed import MAX_LINE, Rejected, empty_feed, open_feed, parse_message
from ..platform.store import RecordColumns
from ..progress import Progress
from ..protocol import (
    MAX_K,
    MAX_SEQ,
    MAX_U32,
    TAG_LEN,
    VERSIONS,
    DeviceSpec,
    MalformedRecord,
    Record,
    scaled_values,
)
from . import native

BATCH = 1 << 16  # records of a store or a CSE read, parsed and checked together
_CHUNK = 1 << 23  # bytes of a feed file read, parsed and checked together
_I32 = 2.0**31
_HEX = np.full(256, 255, dtype=np.uint8)
_HEX[np.frombuffer(b"0123456789abcdef", dtype=np.uint8)] = np.arange(16, dtype=np.uint8)
_FIELDS = ("ep", "boot", "seq", "trk", "ts", "v")
_FIELDS_C = ("v", "ep", "boot", "seq", "trk", "ts")  # native.parse_lines' order


@dataclass
class Origins:
    """How to name the items of a batch in the report: `prefix` and a number (the first one
    plus the position, or `numbers[pos]`), or `names[pos]` given by the source."""

    prefix: str = ""
    first: int = 1
    numbers: np.ndarray | None = None
    names: list[str] | None = None

    def __call__(self, pos: int) -> str:
        if self.names is not None:
            return self.names[pos]
        n = self.first + pos if self.numbers is None else int(self.numbers[pos])
        return f"{self.prefix}{n}"


@dataclass
class Group:
    """The records of one device in a batch, in arrival order: `pos` their places in the batch,
    `values` (m, channels) their readings as n, `fit` False where a record cannot verify (its
    val fits no record of the device, or its tag is no tag), `tags` (m, 16) bytes, and `why`
    (None if there is none) the reason a record is malformed for its device, None elsewhere:
    values not its channels, or beyond 32 bits once scaled (decode counts those apart)."""

    pos: np.ndarray
    cols: dict[str, np.ndarray]
    values: np.ndarray
    fit: np.ndarray
    tags: np.ndarray
    why: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.pos)


@dataclass
class Batch:
    """`n` items in arrival order: records by device, messages that are not records
    (`rejected`: position, reason) and records of devices the home does not have (`unknown`,
    their devices in `strangers`)."""

    n: int
    origins: Origins
    groups: dict[str, Group] = field(default_factory=dict)
    rejected: list[tuple[int, str]] = field(default_factory=list)
    unknown: list[int] = field(default_factory=list)
    strangers: set[str] = field(default_factory=set)


def tallied(batches: Iterable[Batch], progress: Progress, phase: str, total) -> Iterator[Batch]:
    """`batches` passed through, their items counted into `progress` as `phase`
    (veil.progress.tally for batches)."""
    progress(phase, 0, total)
    n = 0
    for batch in batches:
        yield batch
        n += batch.n
        progress(phase, n, total)
    progress(phase, n, total if total is not None else n)


class Layouts:
    """What reading the home's devices needs: per device its channel scales and the msgspec
    types its records and values decode into."""

    def __init__(self, specs: dict[str, DeviceSpec]):
        self.specs = specs
        self.scales = {d: np.array([10.0**c.dec for c in s.channels]) for d, s in specs.items()}
        self._vals = {d: _val_type(s) for d, s in specs.items()}
        types = tuple(_record_type(s, self._vals[d]) for d, s in specs.items())
        self._dev_of = {t: t.__struct_config__.tag for t in types}
        union = types[0] if len(types) == 1 else _union(types)
        self.line = msgspec.json.Decoder(union)
        self.val_lists = {d: msgspec.json.Decoder(list[t]) for d, t in self._vals.items()}
        self.schema = native.schema(specs.values())
        self.width = max(len(s.channels) for s in specs.values())
        self.channels = {
            d: attrgetter(*(f"c{i}" for i in range(len(s.channels)))) for d, s in specs.items()
        }

    def device(self, rec) -> str:
        return self._dev_of[type(rec)]

    def device_of(self, t: type) -> str:
        return self._dev_of[t]


def _union(types):
    from typing import Union

    return Union[types]  # noqa: UP007  (a runtime tuple of types)


def _val_type(spec: DeviceSpec):
    num = int | float
    fields = [(f"c{i}", num, msgspec.field(name=c.name)) for i, c in enumerate(spec.channels)]
    return msgspec.defstruct(f"Val_{spec.device}", fields, forbid_unknown_fields=True, gc=False)


def _record_type(spec: DeviceSpec, val):
    u32 = Annotated[int, msgspec.Meta(ge=0, le=MAX_U32)]
    fields = [
        ("v", Literal[VERSIONS]),
        ("ep", u32),
        ("boot", u32),
        ("seq", Annotated[int, msgspec.Meta(ge=0, le=MAX_SEQ)]),
        ("trk", Annotated[int, msgspec.Meta(ge=0, le=MAX_K - 1)]),
        ("ts", u32),
        ("val", val),
        ("tag", Annotated[str, msgspec.Meta(min_length=2 * TAG_LEN, max_length=2 * TAG_LEN)]),
    ]
    return msgspec.defstruct(
        f"Rec_{spec.device}",
        fields,
        tag_field="dev",
        tag=spec.device,
        forbid_unknown_fields=True,
        gc=False,
    )


def _channel_values(layouts: Layouts, dev: str, vals: list) -> np.ndarray:
    """(m, channels) float64 values of a device's parsed vals; inf where an integer is beyond
    any float (no record: its line is read again and rejected)."""
    x = np.empty((len(vals), len(layouts.specs[dev].channels)), dtype=np.float64)
    for j in range(x.shape[1]):
        try:
            x[:, j] = np.fromiter(map(attrgetter(f"c{j}"), vals), dtype=np.float64, count=len(vals))
        except OverflowError:
            x[:, j] = [v if abs(v) < 2**63 else np.inf for v in map(attrgetter(f"c{j}"), vals)]
    return x


def _hex_tags(tags: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """(n, 16) bytes of tags of 32 characters each, and which ones are 32 lowercase hex digits."""
    text = "".join(tags).encode("ascii", "replace")
    nib = _HEX[np.frombuffer(text, dtype=np.uint8)].reshape(len(tags), 2 * TAG_LEN)
    good = (nib != 255).all(axis=1)
    return (nib[:, 0::2] << 4 | nib[:, 1::2]).astype(np.uint8), good


def _beyond_text(dev: str) -> str:
    """Why a record whose values do not fit 32 bits once scaled is malformed, in the words of
    protocol.CanonicalPacker.pack."""
    return f"a value of device {dev} is beyond 32 bits"


def _beyond(dev: str, fit: np.ndarray) -> np.ndarray | None:
    """Group.why of records whose values do not all fit 32 bits (`fit` False); None when all
    fit."""
    if fit.all():
        return None
    why = np.full(len(fit), None, dtype=object)
    why[~fit] = _beyond_text(dev)
    return why


def _scale(x: np.ndarray, scales: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """n = round(x * 10^dec) of every value (x as float64: exact for every value a record may
    carry), and whether each row's n all fit signed 32 bits (canonical bytes, 4.1)."""
    n = np.rint(x * scales)
    fit = ((n >= -_I32) & (n < _I32)).all(axis=1)
    return np.where(fit[:, None], n, 0).astype(np.int64), fit


class _Builder:
    """Collects one batch's items in arrival order: parsed structs (the fast path), Records
    (lines the structs do not fit, and sources that give Records) and ready Groups."""

    def __init__(self, layouts: Layouts, n: int, origins: Origins, open_last: int | None = None):
        self.layouts = layouts
        self.batch = Batch(n, origins)
        self.open_last = open_last  # the position of a last line that had no newline
        self.groups: dict[str, list[Group]] = {}
        self.structs: dict[str, tuple[list[int], list]] = {}
        self.records: dict[str, tuple[list[int], list[Record]]] = {}

    def struct(self, pos: int, rec) -> None:
        got = self.structs.setdefault(self.layouts.device(rec), ([], []))
        got[0].append(pos)
        got[1].append(rec)

    def record(self, pos: int, rec: Record) -> None:
        if rec.dev not in self.layouts.specs:
            self.batch.unknown.append(pos)
            self.batch.strangers.add(rec.dev)
            return
        got = self.records.setdefault(rec.dev, ([], []))
        got[0].append(pos)
        got[1].append(rec)

    def reparse(self, pos: int, raw: bytes) -> None:
        """A line through veil.feed's parser, with its newline as read_feed reads it (a JSON
        error's column depends on it): a Record, or the reason it is not one."""
        try:
            self.record(pos, parse_message(raw if pos == self.open_last else raw + b"\n"))
        except MalformedRecord as e:
            reason = f"truncated last line: {e}" if pos == self.open_last else str(e)
            self.batch.rejected.append((pos, reason))

    def _structs(self, dev: str, pos: list[int], recs: list, lines: dict[int, bytes]) -> Group:
        """A device's parsed structs as a Group; those failing a check of check_shape that
        their types do not make (the tag's digits, a value's range) go back to the parser."""
        cols = {
            f: np.fromiter(map(attrgetter(f), recs), dtype=np.int64, count=len(recs))
            for f in _FIELDS
        }
        x = _channel_values(self.layouts, dev, list(map(attrgetter("val"), recs)))
        tags, hex_ok = _hex_tags(list(map(attrgetter("tag"), recs)))
        good = hex_ok & ((x > -_I32) & (x < _I32)).all(axis=1)
        values, fit = _scale(x, self.layouts.scales[dev])
        group = Group(np.asarray(pos, dtype=np.int64), cols, values, fit, tags, _beyond(dev, fit))
        if good.all():
            return group
        for p in group.pos[~good].tolist():
            self.reparse(p, lines[p])
        return _take(group, good)

    def _records(self, dev: str, pos: list[int], recs: list[Record]) -> Group:
        spec = self.layouts.specs[dev]
        cols = {f: np.array([getattr(r, f) for r in recs], dtype=np.int64) for f in _FIELDS}
        values = np.zeros((len(recs), len(spec.channels)), dtype=np.int64)
        fit = np.zeros(len(recs), dtype=bool)
        tags = np.zeros((len(recs), TAG_LEN), dtype=np.uint8)
        why = np.full(len(recs), None, dtype=object)
        for i, r in enumerate(recs):
            try:
                n = scaled_values(r, spec)
            except MalformedRecord as e:  # not the device's channels
                why[i] = str(e)
                continue
            except (TypeError, AttributeError):
                continue  # a stored val that is no object of numbers: it cannot verify
            if not all(-_I32 <= v < _I32 for v in n):
                why[i] = _beyond_text(dev)
                continue
            try:
                tags[i] = np.frombuffer(bytes.fromhex(r.tag), dtype=np.uint8)
            except (TypeError, ValueError, AttributeError):
                continue  # no tag: it cannot verify
            values[i], fit[i] = n, True
        pos = np.asarray(pos, dtype=np.int64)
        return Group(pos, cols, values, fit, tags, why if any(why) else None)

    def finish(self, lines: dict[int, bytes] | None = None) -> Batch:
        for dev, (pos, recs) in self.structs.items():
            self.groups.setdefault(dev, []).append(self._structs(dev, pos, recs, lines))
        for dev, (pos, recs) in self.records.items():  # after the structs: reparse adds some
            self.groups.setdefault(dev, []).append(self._records(dev, pos, recs))
        for dev, parts in self.groups.items():
            g = parts[0] if len(parts) == 1 else _concat(parts)
            if len(g):
                self.batch.groups[dev] = g
        self.batch.rejected.sort()
        self.batch.unknown.sort()
        return self.batch


def _take(g: Group, keep: np.ndarray) -> Group:
    cols = {f: c[keep] for f, c in g.cols.items()}
    why = None if g.why is None else _beyond_none(g.why[keep])
    return Group(g.pos[keep], cols, g.values[keep], g.fit[keep], g.tags[keep], why)


def _concat(parts: list[Group]) -> Group:
    pos = np.concatenate([p.pos for p in parts])
    order = np.argsort(pos, kind="stable")
    why = None
    if any(p.why is not None for p in parts):
        whys = [np.full(len(p), None, dtype=object) if p.why is None else p.why for p in parts]
        why = np.concatenate(whys)[order]
    return Group(
        pos[order],
        {f: np.concatenate([p.cols[f] for p in parts])[order] for f in _FIELDS},
        np.concatenate([p.values for p in parts])[order],
        np.concatenate([p.fit for p in parts])[order],
        np.concatenate([p.tags for p in parts])[order],
        why,
    )


def _beyond_none(why: np.ndarray) -> np.ndarray | None:
    """`why`, or None when it gives no reason."""
    return why if any(why) else None


def feed_batches(layouts: Layouts, path: str | Path) -> Iterator[Batch]:
    """The batches of a feed file, a chunk of it each: what veil.feed.read_feed yields, line
    for line (and refuses: a folder, a file with no line at all)."""
    path = Path(path)
    seen = 0
    with open_feed(path) as f:
        for chunk in _chunks(f):
            batch = _chunk_batch(layouts, *chunk, f"{path.name}:")
            if batch.n:
                seen += batch.n
                yield batch
    if not seen:
        raise empty_feed(path)


def _chunks(f):
    """(buf, starts, lens, first line number, last_open) per chunk of the file: where its
    complete lines are in `buf` (newline excluded); `last_open` when the only line is the
    file's last, without newline. A line longer than MAX_LINE is dropped as it is read (its
    length is kept), however long it is, as read_feed skips it."""
    lineno = 0
    rest = b""
    skipping = False  # the open line is too long: its bytes are dropped up to its newline
    while chunk := f.read(_CHUNK):
        buf = rest + chunk
        ends = np.flatnonzero(np.frombuffer(buf, dtype=np.uint8) == 10)
        if not len(ends):
            skipping = skipping or len(buf) > MAX_LINE
            rest = b"" if skipping else buf
            continue
        starts = np.r_[0, ends[:-1] + 1]
        lens = ends - starts
        if skipping:
            lens[0] = MAX_LINE + 1
        rest = buf[ends[-1] + 1 :]
        skipping = len(rest) > MAX_LINE
        if skipping:
            rest = b""
        yield buf, starts, lens, lineno + 1, False
        lineno += len(starts)
    if skipping:
        yield b"", np.zeros(1, np.int64), np.array([MAX_LINE + 1]), lineno + 1, False
    elif rest:
        yield rest, np.zeros(1, np.int64), np.array([len(rest)]), lineno + 1, True


def _chunk_batch(layouts, buf, starts, lens, first, last_open, prefix) -> Batch:
    """The non-blank lines of a chunk as one Batch: lines in the devices' own encoding read
    by the C reader (native.parse_lines), the others by msgspec, the rest by veil.feed."""
    n = len(starts)
    long = lens > MAX_LINE if last_open else lens >= MAX_LINE
    status = np.full(n, 2, dtype=np.int8)
    parsed = native.parse_lines(buf, starts, lens, layouts.schema, layouts.width)
    if parsed is not None:
        status, dev, fields, values, fit, tags = parsed
        status[long] = 2
    slow = np.flatnonzero((status == 2) & ~long).tolist()
    raw = {i: buf[starts[i] : starts[i] + lens[i]] for i in slow}
    for i in slow:
        if not raw[i].strip():
            status[i] = native.BLANK
            del raw[i]
    keep = status != native.BLANK
    numbers = first + np.flatnonzero(keep)
    pos_of = np.cumsum(keep) - 1
    origins = Origins(prefix, first, None if keep.all() else numbers)
    b = _Builder(layouts, int(keep.sum()), origins, int(pos_of[-1]) if last_open else None)
    for i in np.flatnonzero(long).tolist():
        b.batch.rejected.append((int(pos_of[i]), f"line longer than {MAX_LINE} bytes"))
    if parsed is not None:
        fast = status == native.PARSED
        for d, dev_name in enumerate(layouts.specs):
            idx = np.flatnonzero(fast & (dev == d))
            if len(idx):
                width = len(layouts.specs[dev_name].channels)
                cols = dict(zip(_FIELDS_C, fields[idx].T, strict=True))
                why = _beyond(dev_name, fit[idx])
                group = Group(pos_of[idx], cols, values[idx, :width], fit[idx], tags[idx], why)
                b.groups.setdefault(dev_name, []).append(group)
    lines = {int(pos_of[i]): line for i, line in raw.items()}
    _slow_lines(b, lines)
    return b.finish(lines)


def _slow_lines(b: _Builder, lines: dict[int, bytes]) -> None:
    """Lines the C reader did not take (or all, without it): msgspec, then veil.feed."""
    decode = b.layouts.line.decode
    try:
        recs = list(map(decode, lines.values()))
    except (msgspec.DecodeError, msgspec.ValidationError):
        recs = None
    if recs is not None:
        for pos, rec in zip(lines, recs, strict=True):
            b.struct(pos, rec)
        return
    for pos, raw in lines.items():
        try:
            b.struct(pos, decode(raw))
        except (msgspec.DecodeError, msgspec.ValidationError):
            b.reparse(pos, raw)


def store_batches(layouts: Layouts, columns: Iterable[RecordColumns]) -> Iterator[Batch]:
    """Batches of a platform store's records, read as columns (RecordStore.columns): the
    value texts by the C reader where it takes them, the others by msgspec, a device's at once,
    and any it does not take one by one."""
    index = {d: i for i, d in enumerate(layouts.specs)}
    for c in columns:
        b = _Builder(layouts, len(c.dev), Origins(c.prefix, c.first))
        by_dev = _by_value(c.dev)
        code = np.full(len(c.dev), -1, dtype=np.int64)
        for dev, pos in by_dev.items():
            code[pos] = index.get(dev, -1)
        parsed = native.parse_vals(c.val, code, layouts.schema, layouts.width)
        tags, tags_ok = _store_tags(c.tag)
        for dev, pos in by_dev.items():
            if dev not in layouts.specs:
                b.batch.unknown.extend(pos.tolist())
                b.batch.strangers.add(dev)
                continue
            if parsed is not None:
                fast = parsed[0][pos] == native.PARSED
                if fast.all():
                    b.groups.setdefault(dev, []).append(
                        _store_parsed(layouts, dev, pos, c, parsed, tags, tags_ok)
                    )
                    continue
            vals = _store_vals(layouts, dev, _pick(c.val, pos))
            if vals is None:  # a value text the fast paths do not take: one by one
                for i in pos.tolist():
                    b.record(i, _store_record(c, i))
            else:
                b.groups.setdefault(dev, []).append(_store_group(layouts, dev, pos, c, vals))
        yield b.finish()


def _store_tags(tags: list) -> tuple[np.ndarray, np.ndarray]:
    """A batch's tags as (n, 16) bytes and whether each is 32 lowercase hex digits."""
    if _all_tags_32(tags):
        return _hex_tags(tags)
    return np.zeros((len(tags), TAG_LEN), dtype=np.uint8), np.zeros(len(tags), dtype=bool)


def _store_parsed(layouts, dev, pos, c: RecordColumns, parsed, tags, tags_ok) -> Group:
    _status, values, fit = parsed
    cols = {f: getattr(c, f)[pos] for f in _FIELDS}
    width = len(layouts.specs[dev].channels)
    why = _beyond(dev, fit[pos])
    return Group(pos, cols, values[pos, :width], fit[pos] & tags_ok[pos], tags[pos], why)


def _pick(xs: list, pos: np.ndarray) -> list:
    """xs at the positions `pos`, taken in compiled code."""
    if len(pos) == len(xs):
        return xs
    return list(itemgetter(*pos.tolist())(xs)) if len(pos) > 1 else [xs[int(pos[0])]]


def _by_value(names: list) -> dict[object, np.ndarray]:
    """The positions of each distinct value of `names`, in order of first appearance."""
    code = {d: i for i, d in enumerate(dict.fromkeys(names))}
    if len(code) == 1:
        return {next(iter(code)): np.arange(len(names))}
    inv = np.fromiter(map(code.__getitem__, names), dtype=np.int64, count=len(names))
    return {d: np.flatnonzero(inv == i) for d, i in code.items()}


def _store_vals(layouts: Layouts, dev: str, texts: list[str]):
    """The values of a device's stored records, decoded at once; None if a text is not one
    object of exactly the device's channels (the records are then read one by one). Each
    element must be an object of numbers, so no text can spill into its neighbour."""
    try:
        vals = layouts.val_lists[dev].decode("[" + ",".join(texts) + "]")
    except (msgspec.DecodeError, msgspec.ValidationError, TypeError):
        return None
    return vals if len(vals) == len(texts) else None


def _store_group(layouts: Layouts, dev: str, pos: np.ndarray, c: RecordColumns, vals) -> Group:
    cols = {f: getattr(c, f)[pos] for f in _FIELDS}
    x = _channel_values(layouts, dev, vals)
    tags = _pick(c.tag, pos)
    if _all_tags_32(tags):
        raw, hex_ok = _hex_tags(tags)
    else:
        raw, hex_ok = np.zeros((len(pos), TAG_LEN), dtype=np.uint8), np.zeros(len(pos), bool)
    values, fit = _scale(x, layouts.scales[dev])
    return Group(pos, cols, values, fit & hex_ok, raw, _beyond(dev, fit))


def _all_tags_32(tags: list) -> bool:
    """Every tag a text of 32 characters (a store's rows are not checked)."""
    try:
        return len("".join(tags)) == 2 * TAG_LEN * len(tags) and (
            min(map(len, tags)) == max(map(len, tags))
        )
    except TypeError:
        return False


def _store_record(c: RecordColumns, i: int) -> Record:
    try:
        val = json.loads(c.val[i])
    except (TypeError, ValueError):
        val = None
    fields = (int(getattr(c, f)[i]) for f in ("ep", "boot", "seq", "trk", "ts"))
    return Record(c.dev[i], *fields, val, c.tag[i], int(c.v[i]))


def record_batches(
    layouts: Layouts, items: Iterable[tuple[str, Record | Rejected]], size: int = 1 << 16
) -> Iterator[Batch]:
    """Batches of (origin, Record or Rejected) pairs: the CSE, live messages, any iterable."""
    chunk: list = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= size:
            yield items_batch(layouts, chunk)
            chunk = []
    if chunk:
        yield items_batch(layouts, chunk)


def items_batch(layouts: Layouts, items: list[tuple[str, Record | Rejected]]) -> Batch:
    b = _Builder(layouts, len(items), Origins(names=[o for o, _ in items]))
    for pos, (_origin, item) in enumerate(items):
        if isinstance(item, Rejected):
            b.batch.rejected.append((pos, item.reason))
        else:
            b.record(pos, item)
    return b.finish()
