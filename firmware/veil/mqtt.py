"""A small MQTT 3.1.1 publisher: QoS 1 with a window of publishes in flight.

umqtt.simple waits for each PUBACK before the next publish, so a spool of thousands of
records drains one round trip at a time; here up to `window` publishes are in flight and
acknowledgements are matched by packet id as they come (docs/transports.md). Every packet
buffer is allocated once: a publish is the PUBLISH buffer with the message copied into it.

All records of a device go to one topic, `<prefix>/<device>`: a topic per track would let a
subscriber that listens to one track tell the broker which track it cares about.
"""

import select
import struct
import time

from micropython import const

from . import net

_CONNACK = const(0x20)
_PUBACK = const(0x40)
_PINGRESP = const(0xD0)
_REFUSED = (
    "",
    "protocol version",
    "client id rejected",
    "server unavailable",
    "bad user name or password",
    "not authorised",
)


def _varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _str(b):
    return struct.pack(">H", len(b)) + b


class Client:
    """Publishes messages of one fixed size; `nums[i]` is the outbox number in flight in
    slot i, or -1 when the slot is free."""

    def __init__(self, opts, secrets, dev, size):
        self.host = opts["host"]
        self.ca = net.read_ca(opts.get("ca"))
        self.port = opts.get("port", 8883 if self.ca else 1883)
        self.keepalive = opts.get("keepalive", 60)
        self.ack_ms = opts.get("ack_timeout_ms", 10000)
        self.timeout = opts.get("timeout_s", 10)
        self.window = opts.get("window", 32)
        user = opts.get("user", dev.decode()).encode()
        password = secrets.get("mqtt_password", "").encode()
        flags = 0x02 | (0x80 if user else 0) | (0x40 if password else 0)
        body = _str(b"MQTT") + bytes((4, flags)) + struct.pack(">H", self.keepalive)
        body += _str(dev) + (_str(user) if user else b"") + (_str(password) if password else b"")
        self._connect = b"\x10" + _varint(len(body)) + body
        body = None
        topic = _str(("%s/%s" % (opts.get("prefix", "veil"), dev.decode())).encode())
        payload = size - 1  # the record without its newline
        head = b"\x32" + _varint(len(topic) + 2 + payload) + topic
        self._pid_at = len(head)
        # One PUBLISH buffer serves every slot: a message is copied in and written out at once,
        # and what was in flight when the link broke is read again from the outbox.
        self._pkt = bytearray(len(head) + 2 + payload)
        self._pkt[: len(head)] = head
        self.views = [memoryview(self._pkt)[self._pid_at + 2 :]] * self.window
        self.nums = [-1] * self.window
        self._pids = [0] * self.window
        self._pid = 0
        self._hdr = bytearray(2)
        self._rx = bytearray(8)
        self._ping = b"\xc0\x00"
        self._sock = None
        self._poll = None
        self.up = False
        self._sent_at = self._acked_at = 0

    def open(self):
        """Connect and log in; raises OSError or net.LinkError."""
        self.close()
        for i in range(self.window):
            self.nums[i] = -1
        self._sock = net.connect(self.host, self.port, self.ca, self.timeout)
        self._sock.write(self._connect)
        self._poll = select.poll()
        self._poll.register(self._sock, select.POLLIN)
        self._connack = -1
        start = time.ticks_ms()
        while self._connack < 0:
            if time.ticks_diff(time.ticks_ms(), start) > self.timeout * 1000:
                raise OSError("no CONNACK")
            self.poll(100)
        if self._connack:
            rc = self._connack
            raise net.LinkError("broker refused: %s" % (_REFUSED[rc] if rc < len(_REFUSED) else rc))
        self.up = True
        self._sent_at = self._acked_at = time.ticks_ms()

    def close(self):
        if self._sock:
            try:
                if self.up:
                    self._sock.write(b"\xe0\x00")
            except OSError:
                pass
            self._sock.close()
        self._sock = None
        self._poll = None
        self.up = False

    def send(self, i, n, kind):
        """Publish the message already copied into views[i] as outbox message n."""
        self._pid = self._pid % 0xFFFF + 1
        p = self._pkt
        p[self._pid_at] = self._pid >> 8
        p[self._pid_at + 1] = self._pid & 0xFF
        if self.nums[i] < 0 and not self.busy():
            self._acked_at = time.ticks_ms()
        self.nums[i] = n
        self._pids[i] = self._pid
        self._sock.write(p)
        self._sent_at = time.ticks_ms()

    def busy(self):
        for n in self.nums:
            if n >= 0:
                return True
        return False

    def poll(self, wait_ms):
        """Read what the broker sent within `wait_ms`; raises OSError when the link is dead."""
        now = time.ticks_ms()
        if self.busy() and time.ticks_diff(now, self._acked_at) > self.ack_ms:
            raise OSError("no PUBACK for %d ms" % self.ack_ms)
        if self.up and time.ticks_diff(now, self._sent_at) > self.keepalive * 500:
            self._sock.write(self._ping)
            self._sent_at = now
        while True:
            ready = False
            for _obj, ev in self._poll.ipoll(wait_ms):
                if ev & (select.POLLHUP | select.POLLERR):
                    raise OSError("connection lost")
                ready = True
            if not ready:
                return
            self._packet()
            if not self.up:
                return  # logging in: the CONNACK is all there is to read
            wait_ms = 0

    def _packet(self):
        """Read one whole packet. Reads on a blocking MicroPython stream never return short, so
        the header (2 bytes: our replies are short) comes first, then exactly its body."""
        rx = self._rx
        if self._sock.readinto(self._hdr, 2) != 2:
            raise OSError("connection closed by the broker")
        n = self._hdr[1]
        if n > len(rx):
            raise OSError("unexpected packet from the broker")
        if n and self._sock.readinto(rx, n) != n:
            raise OSError("connection closed by the broker")
        kind = self._hdr[0] & 0xF0
        if kind == _PUBACK:
            pid = (rx[0] << 8) | rx[1]
            for i in range(self.window):
                if self._pids[i] == pid and self.nums[i] >= 0:
                    self.nums[i] = -1
                    self._acked_at = time.ticks_ms()
        elif kind == _CONNACK:
            self._connack = rx[1]
