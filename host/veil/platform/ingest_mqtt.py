"""`veil ingest mqtt://…`: the platform's ingest service, MQTT in, store out, no key.

Stateless apart from its MQTT session: instances subscribe to one shared subscription
(`$share/GROUP/PREFIX/#`), so the broker splits the load between them. With `group=None` the
subscription is the plain `PREFIX/#`: Mosquitto 2.0.11 restores plain subscriptions of a
persistent session after a restart but not shared ones, so records that reach a restarted
broker before a shared-group member is back are lost to that group (docs/transports.md).
Every message is acknowledged only after the batch holding it is committed, with a
persistent session, so a crash of the service loses nothing: the broker redelivers what was
not acknowledged, and the store keeps identical records once. Messages that are not records,
or that arrive on a topic other than their own device's (`PREFIX/DEV`), are quarantined with
the reason.
"""

from __future__ import annotations

import contextlib
import select
import socket
import ssl
import struct
import threading
import time
from collections.abc import Callable

from ..errors import VeilError
from ..feed import Rejected, parse_message
from ..protocol import MalformedRecord, Record
from .ingest import IngestResult
from .mqtt_link import BrokerUrl, LinkError, RefusedError, connect, make_client
from .store.base import RecordStore

BATCH = 5000
LINGER = 0.05  # seconds a message may wait for its batch
RETRY_MAX = 5.0
ACK_TIMEOUT = 10.0
_PUBACK = struct.Struct(">H")  # a PUBACK is 0x40 0x02 and the packet id (MQTT 3.1.1, 3.4)


def classify(url: BrokerUrl, topic: str, payload: bytes) -> Record | Rejected:
    """A record whose device is its topic's, or the reason it is not one."""
    try:
        dev = url.device_of(topic)
        rec = parse_message(payload)
        if rec.dev != dev:
            raise MalformedRecord(f"record of device {rec.dev} on the topic of device {dev}")
        return rec
    except MalformedRecord as e:
        return Rejected(topic[:200], str(e), payload)


def default_client_id() -> str:
    return f"veil-ingest-{socket.gethostname()}"[:64]


class MqttIngest:
    def __init__(
        self,
        store: RecordStore,
        url: BrokerUrl,
        *,
        user: str | None = None,
        password: str | None = None,
        ca=None,
        group: str | None = "veil-ingest",
        client_id: str | None = None,
        batch: int = BATCH,
    ):
        self.store = store
        self.url = url
        self.batch = batch
        self.topic = f"$share/{group}/{url.prefix}/#" if group else f"{url.prefix}/#"
        self.client = make_client(
            url,
            client_id=client_id or default_client_id(),
            user=user,
            password=password,
            ca=ca,
            persistent=True,
            manual_ack=True,
        )
        self.client.on_message = self._on_message
        self.subscribed = threading.Event()  # set once the broker granted the subscription
        self.client.on_subscribe = lambda *_: self.subscribed.set()
        self.result = IngestResult()
        self._pending: list = []
        self._was_up = False

    def _on_message(self, _client, _userdata, msg) -> None:
        self._pending.append(msg)

    def _flush(self, ack: bool) -> None:
        """Store the pending messages in one transaction, then acknowledge them."""
        if not self._pending:
            return
        msgs, self._pending = self._pending, []
        good: list[Record] = []
        bad: list[Rejected] = []
        for m in msgs:
            item = classify(self.url, m.topic, m.payload)
            (bad if isinstance(item, Rejected) else good).append(item)
        added = self.store.add(good, bad)
        res = self.result
        res.read += len(msgs)
        res.stored += added
        res.duplicates += len(good) - added
        res.quarantined.extend(bad)
        if ack:
            self._ack([m.mid for m in msgs if m.qos == 1])

    def _ack(self, mids: list[int]) -> None:
        """Acknowledge a committed batch: its PUBACKs in one write on paho's socket.

        paho's `ack()` costs a packet object with a threading.Condition, a wake-up byte and a
        send() per message, about a fifth of the service's time at full rate. The loop runs in
        this thread, so nothing else writes to the socket: paho's own queue is flushed first,
        then the 4-byte PUBACKs follow as one buffer. If the write fails the connection is shut
        (paho then reports it lost and run() reconnects); the broker redelivers the batch and
        the store keeps it once."""
        if not mids:
            return
        c = self.client
        for _ in range(100):
            if not c.want_write() or c.loop_write():
                break
        sock = c.socket()
        if sock is None:
            return
        data = memoryview(b"".join(b"\x40\x02" + _PUBACK.pack(mid) for mid in mids))
        deadline = time.monotonic() + ACK_TIMEOUT
        try:
            while data:
                try:
                    data = data[sock.send(data) :]
                except (BlockingIOError, ssl.SSLWantWriteError, ssl.SSLWantReadError):
                    left = deadline - time.monotonic()
                    if left <= 0:
                        raise TimeoutError from None
                    select.select([], [sock], [], left)
        except OSError:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def _connect(self, stop: threading.Event) -> None:
        """Connect and subscribe; once it was up, retry with backoff while the broker is away
        (a first connection that fails is an error to report, not to wait out)."""
        wait = 0.1
        while True:
            try:
                connect(self.client, self.url)
                self.client.subscribe(self.topic, qos=1)
                self._was_up = True
                return
            except LinkError as e:
                if isinstance(e, RefusedError) or not self._was_up:
                    raise
                if stop.wait(wait):
                    raise
                wait = min(wait * 2, RETRY_MAX)

    def _read_burst(self, rc):
        """After loop() read one message, read on while more are waiting: paho reads one
        packet per loop() call, each behind its own select()."""
        import paho.mqtt.client as mqtt

        n = 0
        while rc == mqtt.MQTT_ERR_SUCCESS and n < len(self._pending) < self.batch:
            n = len(self._pending)
            rc = self.client.loop_read()
        return rc

    def run(
        self,
        *,
        stop: threading.Event | None = None,
        limit: int | None = None,
        idle: float | None = None,
        on_batch: Callable[[IngestResult], None] | None = None,
    ) -> IngestResult:
        """Ingest until `stop` is set, `limit` messages were read, or none came for `idle` s."""
        import paho.mqtt.client as mqtt

        stop = stop or threading.Event()
        self._connect(stop)
        last = first = time.monotonic()
        try:
            while not stop.is_set():
                was_empty = not self._pending
                rc = self.client.loop(0 if self._pending else LINGER)
                rc = self._read_burst(rc)
                now = time.monotonic()
                if rc != mqtt.MQTT_ERR_SUCCESS:
                    self._flush(ack=False)  # redelivered after the reconnect, stored once
                    self._connect(stop)
                    continue
                if self._pending:
                    if was_empty:
                        first = now
                    last = now
                    if len(self._pending) >= self.batch or now - first >= LINGER:
                        self._flush(ack=True)
                        if on_batch:
                            on_batch(self.result)
                elif idle is not None and now - last >= idle:
                    break
                if limit is not None and self.result.read + len(self._pending) >= limit:
                    break
        finally:
            try:
                self._flush(ack=True)
                self.client.loop(0.1)
            finally:
                self.client.disconnect()
        return self.result


def ingest_broker(store: RecordStore, url: str, **options) -> MqttIngest:
    try:
        return MqttIngest(store, BrokerUrl.parse(url), **options)
    except ValueError as e:
        raise VeilError(f"bad ingest option: {e}") from None
