"""Where the owner's jobs (decode, profile fit, audit) read a disguised feed from: feed files,
a platform's store, or a oneM2M CSE. One of them, as (origin, Record or Rejected) pairs, or
as batches of columns for the batch decoder (read_batches)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from itertools import chain
from pathlib import Path

from ..errors import VeilError
from ..feed import Rejected, read_feed
from ..platform.onem2m import read_devices
from ..platform.store import open_store
from ..protocol import DeviceSpec, Record
from .columns import BATCH, Batch, Layouts, feed_batches, record_batches, store_batches

Items = Iterator[tuple[str, Record | Rejected]]


def read_items(
    *,
    feeds: Iterable[str | Path] = (),
    store: str | Path | None = None,
    cse: str | None = None,
    origin: str | None = None,
    devices: Sequence[str] = (),
) -> tuple[Items, list[str]]:
    """The records of one source, and the `devices` a CSE does not have (each is read as its
    own AE unless `origin` names another originator); fails when the CSE has none of them."""
    if store:
        return _store_items(store), []
    if cse:
        items, absent = read_devices(cse, list(devices), origin)
        if len(absent) == len(devices):
            raise VeilError(f"none of the devices ({', '.join(devices)}) has published to {cse}")
        return items, absent
    return chain.from_iterable(map(read_feed, feeds)), []


def _store_items(target: str | Path) -> Items:
    store = open_store(target, create=False)  # a missing store fails now, not at the first read

    def items():
        with store:
            yield from store.items()

    return items()


def read_batches(
    specs: dict[str, DeviceSpec],
    *,
    feeds: Iterable[str | Path] = (),
    store: str | Path | None = None,
    cse: str | None = None,
    origin: str | None = None,
) -> tuple[Iterator[Batch], list[str]]:
    """read_items() as batches of columns for the batch decoder: feed files and stores are
    read as columns, a CSE's records (few, over HTTP) as they come."""
    layouts = Layouts(specs)
    if store:
        return _store_batches(layouts, store), []
    if cse:
        items, absent = read_items(cse=cse, origin=origin, devices=list(specs))
        return record_batches(layouts, items), absent
    return chain.from_iterable(feed_batches(layouts, f) for f in feeds), []


def _store_batches(layouts: Layouts, target: str | Path) -> Iterator[Batch]:
    store = open_store(target, create=False)  # a missing store fails now, not at the first read

    def batches():
        with store:
            yield from store_batches(layouts, store.columns(BATCH))

    return batches()
