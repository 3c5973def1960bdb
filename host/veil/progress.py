"""How a long job tells its caller how far it is, so that no step is silent.

A job takes a `progress` callable and calls it as `progress(phase, done, total)`:

- `phase` names the step in a word or two the user understands ("replay", "copy", "ingest",
  "decode", "plot", the name of an attack); a call with a new phase starts that phase and
  ends the one before;
- `done` counts what is finished, in the phase's own unit (ticks, bytes, records), and
  `total` says how many there will be, or None when no one can tell (an attack that runs
  as one piece); calling it again with a larger `done` moves the phase on.

The library calls it; what the user sees (a bar with an ETA on a terminal, a line every few
seconds in a log) is the CLI's business (veil.cli.options.Reporter). `quiet` is the default
of every job that takes one; `counter` adapts it to a hook that takes only a count,
`tally` counts the items of a stream into it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from typing import Protocol, TypeVar

T = TypeVar("T")


class Progress(Protocol):
    def __call__(self, phase: str, done: float = 0, total: float | None = None) -> None: ...


def quiet(phase: str, done: float = 0, total: float | None = None) -> None:
    """Report nothing."""


def counter(progress: Progress, phase: str, total: float | None) -> Callable[[float], None]:
    """`progress` for one phase, as a callback that takes only the count done (for jobs whose
    hook is `on_count(n)`); the phase starts now."""
    progress(phase, 0, total)
    return lambda done: progress(phase, done, total)


def tally(items: Iterable[T], progress: Progress, phase: str, total: float | None) -> Iterator[T]:
    """`items` passed through, counted into `progress` as `phase` (every 1000 and at the end)."""
    progress(phase, 0, total)
    n = 0
    for n, item in enumerate(items, 1):
        if n % 1000 == 0:
            progress(phase, n, total)
        yield item
    progress(phase, n, total if total is not None else n)


def lines_in(path: str | os.PathLike) -> int | None:
    """How many lines a file has (the total of a phase that reads it line by line); None
    when it cannot be read (the job that reads it says why)."""
    try:
        with open(path, "rb") as f:
            n, last = 0, b"\n"
            while chunk := f.read(1 << 20):  # newlines counted in C, not a line at a time
                n, last = n + chunk.count(b"\n"), chunk[-1:]
            return n + (last != b"\n")
    except OSError:
        return None
