"""Store-and-forward outbox on the board's flash: a bounded ring of fixed-size messages.

Every record of a device has the same length (docs/protocol.md 4.3), so the ring is one file of
`capacity` equal slots and needs no index: message number n (counting from the first message
ever queued) lives in slot n mod capacity. A slot is u32(n mod 2**30) || u8(kind) ||
u8(report) || message, where kind is the record's track (0..15), for transports that route by
track, and report is the drop report the message carries (protocol 4.4; 0 but on a real record). The
positions `head` (next n to write), `tail` (oldest n not yet delivered), `dropped` and
`pending` are kept in a small file replaced by rename, so a power cut leaves the old or the new
positions, never a torn mix; at worst a tick is sent twice.

When the ring is full the oldest message is dropped to make room (the newest data is the most
useful): `dropped` counts it for the log, and `pending` counts it, with the report it carried,
until `report()` hands the count to the next real record (docs/transports.md, "The drop
counter").
"""

import os
import struct

from micropython import const

from .proto import MAX_DROPS

_HDR = const(6)
_NUM = const(0x3FFFFFFF)  # slot headers keep message numbers mod 2**30: small ints on an ESP32
_POS = ">IIII"
_POS_LEN = const(20)


class Outbox:
    def __init__(self, path, capacity, size):
        """`size` is the message length (a record line with its newline)."""
        self.capacity = capacity
        self.size = size
        self._slot = _HDR + size
        self._pos_path = path + ".pos"
        self._tmp_path = path + ".pos.tmp"
        self._hdr = bytearray(_HDR)
        self._pos = bytearray(_POS_LEN)
        self.head = self.tail = self.dropped = self.pending = 0
        self._load()
        try:
            self._f = open(path, "r+b")
        except OSError:
            self._f = open(path, "w+b")
            self.head = self.tail = 0
        self._saved = bytearray(_POS_LEN)  # the positions last written (none yet)

    def _load(self):
        """The saved positions; anything else (none, torn, an older layout) starts empty."""
        try:
            with open(self._pos_path, "rb") as f:
                raw = f.read()
        except OSError:
            return
        sealed = bytearray(raw)
        if len(raw) != _POS_LEN or _seal(sealed) != raw:
            return
        head, tail, dropped, pending = struct.unpack(_POS, raw)
        if 0 <= head - tail <= self.capacity:
            self.head, self.tail, self.dropped, self.pending = head, tail, dropped, pending

    def backlog(self):
        return self.head - self.tail

    def put(self, msg, kind, report=0):
        """Queue one message (`size` bytes) carrying drop report `report`; when full, drop the
        oldest and count it, with the report it carried, as pending."""
        f = self._f
        if self.head - self.tail >= self.capacity:
            f.seek((self.tail % self.capacity) * self._slot)
            f.readinto(self._hdr)
            if _u30(self._hdr, 0) == self.tail & _NUM:
                self.pending += self._hdr[5]
            self.pending += 1
            self.tail += 1
            self.dropped += 1
        f.seek((self.head % self.capacity) * self._slot)
        struct.pack_into(">IBB", self._hdr, 0, self.head & _NUM, kind, report)
        f.write(self._hdr)
        f.write(msg)
        self.head += 1

    def report(self):
        """The drop report for the next real record: dropped messages not yet reported, at
        most MAX_DROPS; the rest waits for the records after it."""
        n = min(self.pending, MAX_DROPS)
        self.pending -= n
        return n

    def read(self, n, view):
        """Copy message n into `view` (its first len(view) bytes) and return its kind."""
        f = self._f
        f.seek((n % self.capacity) * self._slot)
        f.readinto(self._hdr)
        if _u30(self._hdr, 0) != n & _NUM:
            raise OSError("outbox slot %d is damaged" % (n % self.capacity))
        f.readinto(view)
        return self._hdr[4]

    def release(self, upto):
        """Everything before message `upto` is delivered."""
        if upto > self.tail:
            self.tail = min(upto, self.head)

    def sync(self):
        """Flush the queued messages and store the positions if they changed."""
        self._f.flush()
        b = self._pos
        struct.pack_into(_POS, b, 0, self.head, self.tail, self.dropped, self.pending)
        if _seal(b) == self._saved:
            return
        with open(self._tmp_path, "wb") as f:
            f.write(b)
        os.rename(self._tmp_path, self._pos_path)
        self._saved[:] = b

    def close(self):
        self.sync()
        self._f.close()


def _seal(b):
    """Write the Adler-32 of the positions b[:16] into b[16:20] and return b: two 16-bit
    sums, so no intermediate outgrows a small int on the ESP32 and nothing is allocated."""
    s1, s2 = 1, 0
    for i in range(_POS_LEN - 4):
        s1 = (s1 + b[i]) % 65521
        s2 = (s2 + s1) % 65521
    struct.pack_into(">HH", b, _POS_LEN - 4, s2, s1)
    return b


def _u30(b, i):
    return ((b[i] & 0x3F) << 24) | (b[i + 1] << 16) | (b[i + 2] << 8) | b[i + 3]
