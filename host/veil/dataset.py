"""Recorded sensor data for the replay driver: a CSV with a time column and numeric channels.

The host turns a user's CSV into what the board's replay driver reads (Unix seconds, readings
with at most each channel's decimals) and keeps the exact integers it wrote, so that decoded
readings can be compared with the source bit for bit.
"""

from __future__ import annotations

import csv
import datetime as dt
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path

from .errors import VeilError
from .protocol import MAX_DEC, NAME_RE, Channel, format_value

TIME_NAMES = ("ts", "time", "timestamp", "date", "datetime")
_BAD_NAME = re.compile(r"[^A-Za-z0-9_-]")


class DataError(VeilError):
    """The CSV cannot be replayed as given; the message says which row or column."""


@dataclass
class Series:
    """A replayable data set: times, channel specs, readings as integers n."""

    times: list[int]
    channels: list[Channel]
    rows: list[list[int | None]]  # None: no reading (the sensor failed)

    def write_replay(self, path: str | Path) -> None:
        """The replay driver's file: `ts,<channels>` then one row per reading."""
        with Path(path).open("w", newline="") as f:
            f.write(",".join(["ts"] + [c.name for c in self.channels]) + "\n")
            for t, row in zip(self.times, self.rows, strict=True):
                cells = [
                    "" if n is None else format_value(n, c.dec)
                    for c, n in zip(self.channels, row, strict=True)
                ]
                f.write(f"{t}," + ",".join(cells) + "\n")


def parse_time(text: str, fmt: str | None) -> int:
    """Unix seconds from an integer, ISO 8601, or `fmt` (strptime); naive times are UTC."""
    text = text.strip()
    if fmt:
        t = dt.datetime.strptime(text, fmt)
    elif text.isdigit():
        return int(text)
    else:
        t = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    if t.tzinfo is None:
        t = t.replace(tzinfo=dt.UTC)
    return int(t.timestamp())


def _decimals(text: str) -> int:
    d = Decimal(text).normalize()
    return max(0, -d.as_tuple().exponent)


def load(
    path: str | Path,
    *,
    time_col: str | None = None,
    time_format: str | None = None,
    channels: list[str] | None = None,
    limit: int | None = None,
) -> Series:
    """Read a CSV. `channels` entries are `column` or `column:decimals`; by default every
    numeric column but the time column is a channel, with the decimals found in the data."""
    path = Path(path)
    try:
        f = path.open(newline="", encoding="utf-8-sig")  # a spreadsheet may lead with a BOM
    except OSError as e:
        raise DataError(f"cannot read {path}: {e.strerror}") from None
    with f:
        reader = csv.reader(f)
        try:
            header = [h.strip() for h in next(reader)]
        except StopIteration:
            raise DataError(f"{path} is empty") from None
        except csv.Error as e:
            raise DataError(f"{path} is not a CSV file: {e}") from None
        except UnicodeDecodeError:
            raise DataError(f"{path} is not a CSV file: its header is not UTF-8 text") from None
        table = []
        try:
            for row in reader:
                if row:
                    table.append([c.strip() for c in row])
                if limit and len(table) >= limit:
                    break
        except (csv.Error, UnicodeDecodeError) as e:
            raise DataError(f"{path} row {len(table) + 2}: {e}") from None
    if not table:
        raise DataError(f"{path} has a header but no rows")

    time_col = time_col or next((h for h in header if h.lower() in TIME_NAMES), header[0])
    if time_col not in header:
        raise DataError(f"no column {time_col!r} in {path} (columns: {', '.join(header)})")
    ti = header.index(time_col)

    wanted: list[tuple[str, int | None]] = []
    for spec in channels or [h for h in header if h != time_col and _numeric(table, header, h)]:
        col, _, dec = spec.partition(":")
        if col not in header:
            raise DataError(f"no column {col!r} in {path} (columns: {', '.join(header)})")
        wanted.append((col, int(dec) if dec else None))
    if not wanted:
        raise DataError(f"{path} has no numeric column besides {time_col!r}")

    times = []
    for n, row in enumerate(table, start=2):
        if len(row) != len(header):
            raise DataError(f"{path} row {n} has {len(row)} cells, the header {len(header)}")
        try:
            times.append(parse_time(row[ti], time_format))
        except ValueError:
            hint = "" if time_format else " (give --time-format)"
            raise DataError(f"{path} row {n}: cannot read time {row[ti]!r}{hint}") from None

    chans, columns = [], []
    for col, dec in wanted:
        ci = header.index(col)
        cells = [row[ci] for row in table]
        try:
            nums = [Decimal(c) if c else None for c in cells]
        except InvalidOperation:
            bad = next(c for c in cells if c and not _is_number(c))
            raise DataError(f"column {col!r} has a non-number {bad[:20]!r}") from None
        if any(x is not None and not x.is_finite() for x in nums):
            raise DataError(f"column {col!r} has NaN or infinite values")
        found = max((_decimals(c) for c in cells if c), default=0)
        dec = found if dec is None else dec
        if dec > MAX_DEC:
            raise DataError(
                f"column {col!r} has {found} decimals; at most {MAX_DEC} can be carried: "
                f"give --channel {col}:N to round it to N decimals"
            )
        scale = Decimal(10) ** dec
        ints = [None if x is None else int((x * scale).to_integral_value()) for x in nums]
        chans.append(_channel(_BAD_NAME.sub("_", col)[:32], dec, ints))
        columns.append(ints)
    rows = [list(r) for r in zip(*columns, strict=True)]
    return Series(times, chans, rows)


def _is_number(text: str) -> bool:
    try:
        Decimal(text)
    except InvalidOperation:
        return False
    return True


def _numeric(table, header, col) -> bool:
    i = header.index(col)
    return all(_is_number(row[i]) for row in table[:50] if row[i])


def _channel(name: str, dec: int, ints: list[int | None]) -> Channel:
    """Bounds with room around the data: readings beyond them would be published as
    stand-ins, so they must hold every real reading the data has."""
    seen = [n for n in ints if n is not None]
    if not seen:
        raise DataError(f"column {name!r} has no readings")
    if not NAME_RE.match(name):
        raise DataError(f"column name {name!r} cannot be a channel name")
    lo, hi = min(seen), max(seen)
    margin = max((hi - lo) // 4, 10**dec)
    lo_b = 0 if lo >= 0 and lo - margin < 0 else lo - margin
    return Channel(name, dec, lo_b, hi + margin)


def cycled(series: Series, rows: int) -> Series:
    """`rows` readings: the series repeated, its clock running on across the repeats (for
    soak tests and benchmarks that need more ticks than a recording has)."""
    span = series.times[-1] - series.times[0] + (series.times[1] - series.times[0])
    times, data = [], []
    for n in range(rows):
        lap, i = divmod(n, len(series.times))
        times.append(series.times[i] + lap * span)
        data.append(series.rows[i])
    return Series(times, series.channels, data)
