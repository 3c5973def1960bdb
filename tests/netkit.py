"""Helpers of the transport tests: the ingest service in a thread, the virtual board publishing
over MQTT or into a oneM2M CSE, a TCP relay whose link can be cut, and the owner's bit-exact
check."""

from __future__ import annotations

import contextlib
import re
import socket
import threading
import time
from dataclasses import replace

from veil.boards.netconfig import sink_settings
from veil.owner.decode import decode
from veil.platform.ingest_mqtt import MqttIngest
from veil.platform.mqtt_link import BrokerUrl, connect, make_client
from veil.platform.store import open_store
from veil.platform.store.sqlite import SqliteStore
from veil.sim.demo import compare
from veil.sim.replay import simulate

TICKS = re.compile(r"veil: ticks (\d+)")


class IngestThread:
    """`veil ingest` as a platform runs it, in a thread, into a store (SQLite path or URL;
    `store_options` go to open_store). The lines it reports (broker or store away, back) are
    kept in `notices`."""

    def __init__(self, broker, db, client_id="ingest-test", port=None, group=None, **store_options):
        self.stop = threading.Event()
        self.ready = threading.Event()
        self.url = BrokerUrl.parse(f"mqtts://127.0.0.1:{port or broker.tls_port}")
        self.broker = broker
        self.db = db
        self.client_id = client_id
        self.group = group
        self.store_options = store_options
        self.notices: list[str] = []
        self.error = None
        self.service = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        assert self.ready.wait(20)
        assert self.error is None, self.error
        assert self.service.subscribed.wait(20)

    def _run(self):
        """SQLite connections belong to their thread: the store is opened here."""
        try:
            with open_store(self.db, **self.store_options) as store:
                self.service = MqttIngest(
                    store,
                    self.url,
                    user="ingest",
                    password=self.broker.files.password("ingest"),
                    ca=self.broker.files.ca_pem,
                    client_id=self.client_id,
                    group=self.group,
                )
                self.ready.set()
                self.service.run(stop=self.stop, notice=self.notices.append)
        except Exception as e:  # reported by the test through `error`
            self.error = e
            self.ready.set()

    def wait_for(self, n, timeout=60):
        """Wait until the service has read at least n messages (or failed)."""
        end = time.monotonic() + timeout
        while self.service.result.read < n and time.monotonic() < end and not self.error:
            time.sleep(0.05)
        return self.service.result

    def wait_notice(self, text, timeout=60):
        """The first line the service reported that holds `text`; fails after `timeout` s."""
        end = time.monotonic() + timeout
        while not any(text in line for line in self.notices):
            assert self.error is None, self.error
            assert time.monotonic() < end, f"no notice {text!r} in {self.notices}"
            time.sleep(0.05)
        return next(line for line in self.notices if text in line)

    def close(self):
        self.stop.set()
        self.thread.join(20)
        assert self.error is None, self.error


class Publisher:
    """A paho client logged in as one of the broker's users, publishing QoS 1 from a thread."""

    def __init__(self, broker, user, client_id=None):
        url = BrokerUrl.parse(f"mqtts://127.0.0.1:{broker.tls_port}")
        self.client = make_client(
            url,
            client_id=client_id or f"pub-{user}",
            user=user,
            password=broker.files.password(user),
            ca=broker.files.ca_pem,
            persistent=False,
        )
        connect(self.client, url)
        self.client.loop_start()

    def publish_all(self, topic, payloads, retain=False, timeout=10):
        """Publish each payload and wait until the broker acknowledged it."""
        for p in payloads:
            self.client.publish(topic, p, qos=1, retain=retain).wait_for_publish(timeout)

    def close(self):
        self.client.loop_stop()
        self.client.disconnect()


publisher = Publisher


def publish_from_vboard(
    home, series, broker, device="room1", port=None, speed=None, on_line=None, **sink
):
    """Replay `series` on the virtual board, publishing over MQTT with TLS; returns the log."""
    net = sink_settings(
        device, mqtt_url=f"mqtts://127.0.0.1:{port or broker.tls_port}", broker_dir=broker.folder
    )
    net = replace(net, sink={**net.sink, **sink})
    return replay_on_vboard(home, series, device, speed, net, on_line)


def publish_to_cse(home, series, url, device="room1", speed=None, on_line=None, **sink):
    """Replay `series` on the virtual board, publishing into the oneM2M CSE at `url`."""
    net = sink_settings(device, onem2m_url=url)
    net = replace(net, sink={**net.sink, **sink})
    return replay_on_vboard(home, series, device, speed, net, on_line)


def replay_on_vboard(home, series, device, speed, transport, on_line=None):
    """The firmware on a fresh virtual board publishing over this transport, in (sped-up) real
    time when `speed` is given; returns its log (each line also to `on_line` as it comes)."""
    result = simulate(
        series,
        home,
        device,
        realtime=speed is not None,
        speed=speed or 1,
        replace=True,
        transport=transport,
        on_line=on_line,
    )
    return result.log


class BoardThread(threading.Thread):
    """The virtual board publishing in a thread while the test breaks things: `publish` is
    publish_from_vboard or publish_to_cse, called with the other arguments. Its log is
    `lines`, as it comes."""

    def __init__(self, publish, *args, **kw):
        super().__init__(daemon=True)
        self.call = (publish, args, kw)
        self.lines: list[str] = []
        self.error = None
        self.start()

    def run(self):
        publish, args, kw = self.call
        try:
            publish(*args, on_line=self.lines.append, **kw)
        except Exception as e:  # reported by finish()
            self.error = e

    def wait_log(self, text, *, after=0, timeout=60):
        """The index of the first log line from `after` on that holds `text`."""
        end = time.monotonic() + timeout
        while True:
            for i in range(after, len(self.lines)):
                if text in self.lines[i]:
                    return i
            assert self.error is None, self.error
            assert self.is_alive(), f"the board stopped without logging {text!r}"
            assert time.monotonic() < end, f"the board did not log {text!r}"
            time.sleep(0.05)

    def ticks(self) -> int:
        """The last tick count the board logged."""
        counts = [int(m.group(1)) for ln in self.lines if (m := TICKS.search(ln))]
        return counts[-1] if counts else 0

    def wait_ticks(self, more, timeout=60):
        """Wait until the board has logged `more` ticks than now (or stopped)."""
        start, end = self.ticks(), time.monotonic() + timeout
        while self.ticks() < start + more and self.is_alive():
            assert time.monotonic() < end, f"the board did not tick {more} times"
            time.sleep(0.05)

    def finish(self, timeout=180):
        """The board's log, once it has stopped."""
        self.join(timeout)
        assert not self.is_alive(), "the board did not stop"
        assert self.error is None, self.error
        return "\n".join(self.lines)


def owner_check(home, db, series):
    """Decode the platform's store with the key: (rows recovered bit-exact, report)."""
    with SqliteStore(db, create=False) as store:
        readings, report = decode(home.keys(), home.devices(), store.items())
    exact, problems = compare(series, readings)
    assert not problems, problems
    return exact, report


class Relay:
    """A TCP relay to the broker whose link can be cut (all connections dropped, new ones
    refused) and restored: the board's network going away and coming back."""

    def __init__(self, target_port):
        self.target = target_port
        self.srv = socket.socket()
        self.srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.srv.bind(("127.0.0.1", 0))
        self.srv.listen(16)
        self.port = self.srv.getsockname()[1]
        self.up = True
        self.conns: list[socket.socket] = []
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                c, _ = self.srv.accept()
            except OSError:
                return
            if not self.up:
                c.close()
                continue
            try:
                u = socket.create_connection(("127.0.0.1", self.target))
            except OSError:
                c.close()
                continue
            with self.lock:
                self.conns += [c, u]
            for a, b in ((c, u), (u, c)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(a, b):
        with contextlib.suppress(OSError):
            while data := a.recv(65536):
                b.sendall(data)
        for s in (a, b):
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)

    def cut(self):
        self.up = False
        with self.lock:
            for s in self.conns:
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
                s.close()
            self.conns.clear()

    def restore(self):
        self.up = True

    def close(self):
        self.cut()
        self.srv.close()
