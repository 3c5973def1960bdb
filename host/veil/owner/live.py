"""Owner decode, live: follow a broker, print each real reading as it arrives, keep the CSV and
the verification report up to date.

The owner subscribes to every device's topic (`PREFIX/#`), never to one track: the broker
sees the same subscription whichever track is real. Records go through the same batch Decoder
as a stored feed, each poll's messages as one batch, so what the live view shows is what
`veil decode --store` would.
"""

from __future__ import annotations

import csv
import json
import threading
import time
from collections.abc import Callable
from pathlib import Path

from ..errors import VeilError
from ..platform.ingest_mqtt import classify
from ..platform.mqtt_link import BrokerUrl, connect, make_client
from .decode import Decoder, Report, WrongKeyError, csv_header, csv_row
from .home import Home

REPORT_EVERY = 2.0  # seconds between report refreshes
WRONG_KEY_AFTER = 64  # records that fail with none verified before giving up


class NothingReadError(VeilError):
    """A live decode that could read nothing: the message says why."""


def follow(
    home: Home,
    url: str,
    csv_out: Path,
    *,
    report_out: Path | None = None,
    user: str | None,
    password: str | None,
    ca: Path | None,
    limit: int | None = None,
    idle: float | None = None,
    stop: threading.Event | None = None,
    echo: Callable[[str], None] = print,
    show: Callable[[list[str], list], None] | None = None,
) -> Report:
    """Decode the home's devices live from the broker at `url` until `stop` is set, `limit`
    readings were shown or none came for `idle` s; returns the final report. Each reading goes
    to `show(columns, row)` (the CSV's header and row), else to `echo` as one line; `echo` also
    says what is followed and, at the end, how many readings came."""
    keys, specs = home.for_records()
    broker = BrokerUrl.parse(url)
    if user in specs:
        raise NothingReadError(
            f"user {user} is a device of this home: a device may only publish to its own topic "
            "(veil broker's ACL), so the broker delivers it nothing to read; follow with a "
            "reader's credentials (veil broker --reader NAME)"
        )
    stop = stop or threading.Event()
    dec = Decoder(keys, specs)
    inbox: list = []
    client = make_client(
        broker,
        client_id=f"veil-owner-{time.time_ns() % 10**9}",
        user=user,
        password=password,
        ca=ca,
        persistent=False,
    )
    client.on_message = lambda _c, _u, msg: inbox.append((msg.topic, msg.payload))
    connect(client, broker)
    client.subscribe(f"{broker.prefix}/#", qos=1)
    names = csv_header(specs)
    echo(f"following {url}: real readings of {', '.join(sorted(specs))} (Ctrl-C to stop)")
    shown = received = 0
    last_msg = started = refreshed = time.monotonic()
    seen: set = set()
    with Path(csv_out).open("w", newline="") as f:
        out = csv.writer(f)
        out.writerow(names)
        try:
            while not stop.is_set():
                client.loop(0.1)
                now = time.monotonic()
                got = dec.add_items(
                    [(f"{t} #{n}", classify(broker, t, p)) for n, (t, p) in enumerate(inbox)]
                )
                if inbox:
                    last_msg = now
                    received += len(inbox)
                    inbox.clear()
                for key, r in got:
                    if key in seen:
                        continue
                    seen.add(key)
                    row = csv_row(r, specs[r.dev], names)
                    out.writerow(row)
                    if show:
                        show(names, row)
                    else:
                        echo(" ".join(str(c) for c in row if c != ""))
                    shown += 1
                f.flush()
                if dec.unverified >= WRONG_KEY_AFTER and not seen:
                    raise WrongKeyError(
                        f"none of {dec.unverified} records verifies with this home key"
                    )
                if report_out and now - refreshed >= REPORT_EVERY:
                    _write_report(report_out, dec.finish())
                    refreshed = now
                if limit is not None and shown >= limit:
                    break
                if idle is not None and now - last_msg >= idle:
                    break
        finally:
            client.disconnect()
    report = dec.finish()
    if report_out:
        _write_report(report_out, report)
    echo(f"{shown} real readings -> {csv_out}")
    if not received:
        raise NothingReadError(
            f"nothing could be read: no message arrived on {broker.prefix}/# in "
            f"{time.monotonic() - started:.0f} s; the broker delivers nothing to a user its ACL "
            f"does not let read {broker.prefix}/# (veil broker --reader NAME), or no device "
            "published meanwhile"
        )
    return report


def _write_report(path: Path, report: Report) -> None:
    tmp = Path(path).with_suffix(".tmp")
    tmp.write_text(json.dumps(report.to_json(), indent=1) + "\n")
    tmp.replace(path)
