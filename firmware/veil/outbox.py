"""Store-and-forward outbox on the board's flash: a bounded ring of fixed-size messages.

Every record of a device has the same length (docs/protocol.md 4.3), so the ring is one file of
`capacity` equal slots and needs no index: message number n (counting from the first message
ever queued) lives in slot n mod capacity. A slot is u32(n) || u8(kind) || message, where kind
is the record's track (0..15), for transports that route by track. The positions `head` (next
n to write), `tail` (oldest n not yet delivered) and `dropped` are kept in a small file
replaced by rename, so a power cut leaves the old or the new positions, never a torn mix; at
worst a tick is sent twice.

When the ring is full the oldest message is dropped to make room (the newest data is the most
useful) and `dropped` counts it (docs/transports.md, "The drop counter").
"""

import os
import struct

from micropython import const

_HDR = const(5)
_POS = ">III"


class Outbox:
    def __init__(self, path, capacity, size):
        """`size` is the message length (a record line with its newline)."""
        self.capacity = capacity
        self.size = size
        self._slot = _HDR + size
        self._pos_path = path + ".pos"
        self._hdr = bytearray(_HDR)
        self._pos = bytearray(16)
        self.head = self.tail = self.dropped = 0
        self._load()
        try:
            self._f = open(path, "r+b")
        except OSError:
            self._f = open(path, "w+b")
            self.head = self.tail = 0
        self._saved = (-1, 0, 0)

    def _load(self):
        try:
            with open(self._pos_path, "rb") as f:
                raw = f.read()
        except OSError:
            return
        if len(raw) != 16 or struct.unpack(">I", raw[12:])[0] != _check(raw[:12]):
            return
        head, tail, dropped = struct.unpack(_POS, raw)
        if 0 <= head - tail <= self.capacity:
            self.head, self.tail, self.dropped = head, tail, dropped

    def backlog(self):
        return self.head - self.tail

    def put(self, msg, kind):
        """Queue one message (`size` bytes); when full, drop the oldest and count it."""
        if self.head - self.tail >= self.capacity:
            self.tail += 1
            self.dropped += 1
        f = self._f
        f.seek((self.head % self.capacity) * self._slot)
        struct.pack_into(">IB", self._hdr, 0, self.head & 0xFFFFFFFF, kind)
        f.write(self._hdr)
        f.write(msg)
        self.head += 1

    def read(self, n, view):
        """Copy message n into `view` (its first len(view) bytes) and return its kind."""
        f = self._f
        f.seek((n % self.capacity) * self._slot)
        f.readinto(self._hdr)
        if struct.unpack_from(">I", self._hdr, 0)[0] != n & 0xFFFFFFFF:
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
        s = self._saved
        if s[0] == self.head and s[1] == self.tail and s[2] == self.dropped:
            return
        b = self._pos
        struct.pack_into(_POS, b, 0, self.head, self.tail, self.dropped)
        struct.pack_into(">I", b, 12, _check(b[:12]))
        tmp = self._pos_path + ".tmp"
        with open(tmp, "wb") as f:
            f.write(b)
        os.rename(tmp, self._pos_path)
        self._saved = (self.head, self.tail, self.dropped)

    def close(self):
        self.sync()
        self._f.close()


def _check(b):
    c = 0x811C9DC5
    for x in b:
        c = ((c ^ x) * 0x01000193) & 0xFFFFFFFF
    return c
