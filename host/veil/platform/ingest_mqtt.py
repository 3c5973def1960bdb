"""`veil ingest mqtt://…`: the platform's ingest service, MQTT in, store out, no key.

By default one instance holds one persistent, exclusive session (client id per host, or
`--client-id`) subscribed to `PREFIX/#`: Mosquitto restores that subscription from its
persistence after a restart or a crash, so records that reach a restarted broker before the
service is back wait for it. `group=` subscribes to the shared `$share/GROUP/PREFIX/#`
instead, so that several instances split the load: only for a broker that keeps shared
subscriptions over a restart, which Mosquitto 2.0.11 does not (docs/transports.md).

Every message is acknowledged only after the batch holding it is committed, so neither a
crash of the service nor of its store loses anything: the broker redelivers what was not
acknowledged, and the store keeps each record once. A store that cannot be written (a
PostgreSQL restart, an SQLite lock held past its timeout) holds the batch unacknowledged and
is retried with backoff, the outage reported in one line when it starts and one when it ends.
Messages that are not records, or that arrive on a topic other than their own device's
(`PREFIX/DEV`), are quarantined with the reason. Another instance logging in with the same
client id takes the session over; the one taken over stops with one line saying so, rather
than taking it back in a loop.
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
from .mqtt_link import (
    BrokerUrl,
    LinkError,
    RefusedError,
    TakenOverError,
    connect,
    make_client,
)
from .store.base import RecordStore, StoreUnavailable

BATCH = 5000
LINGER = 0.05  # seconds a message may wait for its batch
RETRY_MAX = 5.0  # longest wait between two tries of the broker or the store
ACK_TIMEOUT = 10.0
TAKEOVER_DROPS, TAKEOVER_AGE = 3, 5.0  # sessions lost in a row, each within so many seconds
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
        group: str | None = None,
        client_id: str | None = None,
        batch: int = BATCH,
    ):
        self.store = store
        self.url = url
        self.batch = batch
        self.client_id = client_id or default_client_id()
        self.topic = f"$share/{group}/{url.prefix}/#" if group else f"{url.prefix}/#"
        self.client = make_client(
            url,
            client_id=self.client_id,
            user=user,
            password=password,
            ca=ca,
            persistent=True,
            manual_ack=True,
        )
        self.client.on_message = self._on_message
        self.subscribed = threading.Event()  # set once the broker granted the subscription
        self.client.on_subscribe = self._on_subscribe
        self.result = IngestResult()
        self._pending: list = []
        self._was_up = False
        self._lost = False  # the connection went while a batch was being committed
        self._bounces = 0  # sessions in a row lost as soon as they were made
        self._up_since, self._at_once = 0.0, True
        self._stop = threading.Event()
        self._notice: Callable[[str], None] = lambda _line: None

    def _on_message(self, _client, _userdata, msg) -> None:
        self._pending.append(msg)

    def _on_subscribe(self, *_args) -> None:
        self.subscribed.set()
        self._notice(
            f"subscribed to {self.topic} on {self.url.host}:{self.url.port} as {self.client_id}"
        )

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
        added = self._commit(good, bad)
        res = self.result
        res.read += len(msgs)
        res.stored += added
        res.duplicates += len(good) - added
        res.quarantined.extend(bad)
        if ack and not self._lost:
            self._ack([m.mid for m in msgs if m.qos == 1])

    def _commit(self, good: list[Record], bad: list[Rejected]) -> int:
        """Write a batch, waiting out a store that is away (with backoff, the MQTT link kept
        alive meanwhile); StoreUnavailable only if the service is stopped before it is back:
        nothing of the batch was then acknowledged, and the broker sends it again."""
        wait, since = 0.1, None
        while True:
            try:
                added = self.store.add(good, bad)
            except StoreUnavailable as e:
                if self._stop.is_set():
                    raise
                if since is None:
                    since = time.monotonic()
                    self._notice(
                        f"store unavailable ({e}); holding {len(good) + len(bad)} messages "
                        "unacknowledged, retrying"
                    )
                self._keep_link(wait)
                wait = min(wait * 2, RETRY_MAX)
                continue
            if since is not None:
                self._notice(f"store back after {time.monotonic() - since:.1f} s; resumed")
            return added

    def _keep_link(self, seconds: float) -> None:
        """Wait, answering the broker's keep-alive (messages that arrive meanwhile wait in
        the next batch); a connection lost meanwhile is reconnected once the store is back."""
        import paho.mqtt.client as mqtt

        end = time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0 and not self._stop.is_set():
            if self._lost:
                self._stop.wait(left)
            elif self.client.loop(min(left, 1.0)) != mqtt.MQTT_ERR_SUCCESS:
                self._lost = True

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

    def _connect(self) -> None:
        """Connect and subscribe; once it was up, retry with backoff while the broker is away
        (a first connection that fails is an error to report, not to wait out). Stops with
        TakenOverError, before taking the session back, when another client has it: the
        session was closed TAKEOVER_DROPS times in a row within TAKEOVER_AGE s of being made
        at the first try (MQTT 3.1.1 has no word for "another client took your session": the
        broker just closes the connection)."""
        broker = f"{self.url.host}:{self.url.port}"
        if self._was_up:
            quick = time.monotonic() - self._up_since < TAKEOVER_AGE and self._at_once
            self._bounces = self._bounces + 1 if quick else 0
            if self._bounces >= TAKEOVER_DROPS:
                raise TakenOverError(
                    f"another client is logged in to {broker} with client id {self.client_id} "
                    f"(closed this session {self._bounces} times as soon as it was made): give "
                    "each ingest instance its own --client-id"
                )
            self._notice(f"broker {broker} connection lost; reconnecting")
        wait, self._at_once = 0.1, True
        while True:
            try:
                connect(self.client, self.url)
                self.client.subscribe(self.topic, qos=1)
                self._was_up, self._lost, self._up_since = True, False, time.monotonic()
                return
            except LinkError as e:
                self._at_once = False
                if isinstance(e, RefusedError) or not self._was_up:
                    raise
                if self._stop.wait(wait):
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
        notice: Callable[[str], None] | None = None,
    ) -> IngestResult:
        """Ingest until `stop` is set, `limit` messages were read, or none came for `idle` s;
        `notice` gets one line each time the subscription is granted, the broker connection
        is lost, the store goes away and the store is back."""
        import paho.mqtt.client as mqtt

        self._stop = stop or threading.Event()
        self._notice = notice or (lambda _line: None)
        self._connect()
        last = first = time.monotonic()
        try:
            while not self._stop.is_set():
                was_empty = not self._pending
                rc = self.client.loop(0 if self._pending else LINGER)
                rc = self._read_burst(rc)
                now = time.monotonic()
                if rc != mqtt.MQTT_ERR_SUCCESS or self._lost:
                    self._flush(ack=False)  # redelivered after the reconnect, stored once
                    self._connect()
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
