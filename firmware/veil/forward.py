"""Store and forward: a sink that queues every message in the flash outbox and sends it with a
network client, reconnecting with exponential backoff, so an outage loses nothing that fits.

Clients (veil.mqtt, veil.onem2m) share one shape: `open()`, `close()`, `up`, `views[i]`
(where the message for slot i is copied), `send(i, n, kind)`, `nums[i]` (outbox number in
flight in slot i, -1 when free), `busy()` and `poll(wait_ms)`. The outbox tail only
moves past a message once the server acknowledged it, so what was in flight when the link
broke is sent again after the reconnect (receivers store duplicates once).
"""

import os
import time

from . import config, net
from .outbox import Outbox


def log(*parts):
    print("veil:", *parts)


class Forwarder:
    """The sink interface (veil.sinks) over an outbox and a client; `name` labels the logs."""

    def __init__(self, options, size, client, name):
        self.name = name
        self.client = client
        self.outbox = Outbox(
            options.get("spool", "outbox"), options.get("spool_records", 4096), size, options["k"]
        )
        self.ssid = options.get("ssid")
        self.wifi_password = config.secrets().get("wifi_password", "")
        self.budget = options.get("budget_ms", 1000)
        self.ack_wait = options.get("ack_wait_ms", 200)  # for a tick's acks, so nothing is written
        self.drain = options.get("drain_ms", 30000)
        self.backoff_min = options.get("backoff_ms", 250)
        self.backoff_max = options.get("backoff_max_ms", 30000)
        self.backoff = self.backoff_min
        self.retry_at = time.ticks_ms()
        self.next = self.outbox.tail
        self._down_logged = False

    def write(self, line, trk=0, report=0):
        self.outbox.put(line, trk, report)

    def drop_report(self):
        return self.outbox.report()

    def flush(self):
        """Send the tick's messages, wait a little for their acknowledgements, then write to
        flash only what is still owed (veil.outbox: a healthy link writes nothing)."""
        self._pump(self.budget, False)
        self._acks(self.ack_wait)
        self.outbox.commit()

    def _acks(self, wait_ms):
        """Collect acknowledgements for up to `wait_ms` while messages are in flight."""
        c = self.client
        start = time.ticks_ms()
        while c.up and c.busy():
            left = wait_ms - time.ticks_diff(time.ticks_ms(), start)
            if left <= 0:
                return
            try:
                c.poll(min(left, 20))
            except (OSError, net.LinkError) as e:
                self._lost(e)
            self._settle()

    def close(self):
        self._pump(self.drain, True)
        left = self.outbox.backlog()
        if left:
            log(self.name, "stopping with", left, "messages kept in the outbox")
        if self.outbox.dropped:
            log(self.name, "outbox dropped", self.outbox.dropped, "records in all")
        self.client.close()
        self.outbox.close()

    def _pump(self, budget_ms, patient):
        """Send what the window allows and collect acknowledgements. A tick returns once all is
        in flight (waiting only for a full window); a `patient` pump (at close) waits for every
        acknowledgement and sleeps through the backoff, until the outbox is empty or time is up."""
        start = time.ticks_ms()
        ob = self.outbox
        c = self.client
        while ob.backlog():
            left = budget_ms - time.ticks_diff(time.ticks_ms(), start)
            if left <= 0:
                return
            if not c.up and not self._connect(left if patient else 0):
                if patient and time.ticks_diff(self.retry_at, time.ticks_ms()) < left:
                    continue  # the next try fits in the time left: sleep to it and try
                return
            try:
                if self.next < ob.tail:
                    self.next = ob.tail
                while self.next < ob.head:
                    i = _free(c.nums)
                    if i < 0:
                        break
                    c.send(i, self.next, ob.read(self.next, c.views[i]))
                    self.next += 1
                waiting = self.next < ob.head or patient
                c.poll(min(left, 50) if waiting and c.busy() else 0)
            except (OSError, net.LinkError) as e:
                self._lost(e)
            self._settle()
            if self.next >= ob.head and not patient:
                return

    def _settle(self):
        t = self.next
        for n in self.client.nums:
            if 0 <= n < t:
                t = n
        self.outbox.release(t)

    def _connect(self, wait_ms):
        """Try to (re)connect unless the backoff says wait (waiting up to `wait_ms` for it)."""
        wait = time.ticks_diff(self.retry_at, time.ticks_ms())
        if wait > 0:
            if wait >= wait_ms:
                return False
            time.sleep_ms(wait)
        try:
            net.wifi_up(self.ssid, self.wifi_password)
            self.client.open()
        except (OSError, net.LinkError) as e:
            self._lost(e)
            return False
        self.backoff = self.backoff_min
        self.next = self.outbox.tail
        self._down_logged = False
        log(self.name, "connected; outbox", self.outbox.backlog(), "dropped", self.outbox.dropped)
        return True

    def _lost(self, err):
        """Close the link and schedule the next try after a jittered, doubling backoff."""
        self.client.close()
        jitter = os.urandom(1)[0] * self.backoff // 1024
        self.retry_at = time.ticks_add(time.ticks_ms(), self.backoff + jitter)
        if not self._down_logged:
            log(self.name, "link down:", err)
            self._down_logged = True
        self.backoff = min(self.backoff * 2, self.backoff_max)


def _free(nums):
    """A free slot's index, or -1 when every slot of the window is in flight."""
    for i in range(len(nums)):
        if nums[i] < 0:
            return i
    return -1
