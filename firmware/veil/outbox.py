"""Store-and-forward outbox on the board's flash: a bounded ring of fixed-size messages.

Every record of a device has the same length (docs/protocol.md 4.3), so the ring is `capacity`
equal slots and needs no index: message number n (counting from the first message ever
queued) lives in slot n mod capacity, in segment files of SEGMENT slots (`<path>.0`, ...). A
slot is u32(n mod 2**30) || u8(kind) || u8(report) || message, where kind is the record's
track (0..15), for transports that route by track, and report is the drop report the message
carries (protocol 4.4; 0 but on a real record). The positions `head` (next n to write),
`tail` (oldest n not yet delivered), `dropped` and `pending` are kept in a small file
replaced by rename, so a power cut leaves the old or the new positions, never a torn mix.

Flash wears out, so a tick's messages wait in RAM (`stage` of them) until `commit()`: only
those still owed after the tick's sending (the link is down, or slow to acknowledge) are
written, in one write; the positions only when the drop counts change or the tail has moved a
quarter of the ring. A reboot finds the messages written since by their numbers and resends
from the saved tail, some the server already has (receivers store duplicates once). While the
link keeps up, a tick writes nothing. docs/boards.md, "Flash", counts the writes.

When the ring is full the oldest message is dropped to make room (the newest data is the most
useful): `dropped` counts it for the log, and `pending` counts it, with the report it carried,
until `report()` hands the count to the next real record (docs/transports.md, "The drop
counter").
"""

import os
import struct

from micropython import const

from .proto import MAX_DROPS
from .settings import exists

_HDR = const(6)
_NUM = const(0x3FFFFFFF)  # slot headers keep message numbers mod 2**30: small ints on an ESP32
_POS = ">IIII"
_POS_LEN = const(20)
SEGMENT = const(64)  # slots a segment file holds (see _at)


class Outbox:
    def __init__(self, path, capacity, size, stage=4):
        """`size` is the message length (a record line with its newline); `stage`, how many
        messages wait in RAM for `commit()` (a tick's k; at most `capacity`)."""
        self.capacity = capacity
        self.size = size
        self._slot = _HDR + size
        self._pos_path = path + ".pos"
        self._tmp_path = path + ".pos.tmp"
        self._hdr = bytearray(_HDR)
        self._pos = bytearray(_POS_LEN)
        self._staged = bytearray(min(stage, capacity) * self._slot)
        mv = memoryview(self._staged)  # views made once: making one per message is garbage
        slot = self._slot
        self._slots = [mv[i : i + slot] for i in range(0, len(mv), slot)]
        self._hdrs = [mv[i : i + _HDR] for i in range(0, len(mv), slot)]
        self._msgs = []  # views of the messages as long as read() is asked for (see there)
        self.head = self.tail = self.dropped = self.pending = 0
        self._load()
        self._path = path
        self._f = None  # the segment file open now, and its number
        self._seg = -1
        if not exists(path + ".0"):
            self.head = self.tail = self.dropped = self.pending = 0  # an older layout
        self._recover()
        self._written = self.head  # messages before it are in the file, the rest staged
        self._saved = bytearray(_POS_LEN)  # the positions last written (none yet)
        struct.pack_into(_POS, self._saved, 0, self.head, self.tail, self.dropped, self.pending)
        self.writes = 0  # flash commits made (docs/boards.md, "Flash")

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

    def _recover(self):
        """Messages written after the positions were: the slots that follow `head` and hold
        the next numbers (a slot of an earlier lap holds another number)."""
        while self.head - self.tail < self.capacity:
            if self._at(self.head).readinto(self._hdr) != _HDR:
                return
            if _u30(self._hdr, 0) != self.head & _NUM:
                return
            self.head += 1

    def _at(self, n):
        """The segment file holding message n's slot, positioned at it. The ring is split in
        files of SEGMENT slots: littlefs rewrites a file from a changed block to its end, so
        a write in one big ring file would rewrite half of it (half a megabyte) every time."""
        i = n % self.capacity
        seg = i // SEGMENT
        if seg != self._seg:
            if self._f:
                self._f.close()  # a write there was flushed by commit() or _spill()
            name = "%s.%d" % (self._path, seg)
            try:
                self._f = open(name, "r+b")
            except OSError:
                self._f = open(name, "w+b")
            self._seg = seg
        self._f.seek((i - seg * SEGMENT) * self._slot)
        return self._f

    def backlog(self):
        return self.head - self.tail

    def put(self, msg, kind, report=0):
        """Queue one message (`size` bytes) carrying drop report `report`; when full, drop the
        oldest and count it, with the report it carried, as pending."""
        if self.head - self.tail >= self.capacity:
            self._header(self.tail)
            if _u30(self._hdr, 0) == self.tail & _NUM:
                self.pending += self._hdr[5]
            self.pending += 1
            self.tail += 1
            self.dropped += 1
        if (self.head - self._written + 1) * self._slot > len(self._staged):
            self._spill()
        at = (self.head - self._written) * self._slot
        s = self._staged
        struct.pack_into(">IBB", s, at, self.head & _NUM, kind, report)
        s[at + _HDR : at + self._slot] = msg
        self.head += 1

    def _header(self, n):
        """Message n's slot header into _hdr (from RAM if it is staged)."""
        if n >= self._written:
            self._hdr[:] = self._hdrs[n - self._written]
        else:
            self._at(n).readinto(self._hdr)

    def _spill(self):
        """Write the staged messages still owed (from the tail on) into their slots."""
        first = self.tail if self.tail > self._written else self._written
        for n in range(first, self.head):
            seg = self._seg
            f = self._at(n)
            if seg != self._seg and seg >= 0:
                self.writes += 1  # _at() closed, so committed, the segment written before
            f.write(self._slots[n - self._written])
        self._written = self.head

    def report(self):
        """The drop report for the next real record: dropped messages not yet reported, at
        most MAX_DROPS; the rest waits for the records after it."""
        n = min(self.pending, MAX_DROPS)
        self.pending -= n
        return n

    def read(self, n, view):
        """Copy message n into `view` (its first len(view) bytes) and return its kind."""
        self._header(n)
        if _u30(self._hdr, 0) != n & _NUM:
            raise OSError("outbox slot %d is damaged" % (n % self.capacity))
        if n >= self._written:
            msgs = self._msgs
            if not msgs or len(msgs[0]) != len(view):  # once per client: its views' length
                step = self._slot
                size = len(view)
                mv = memoryview(self._staged)
                msgs = self._msgs = [
                    mv[i + _HDR : i + _HDR + size] for i in range(0, len(mv), step)
                ]
            view[:] = msgs[n - self._written]
        else:
            self._f.readinto(view)
        return self._hdr[4]

    def release(self, upto):
        """Everything before message `upto` is delivered."""
        if upto > self.tail:
            self.tail = min(upto, self.head)

    def commit(self):
        """The end of a tick: write what is still owed (one flash write), and the positions
        only when the drop counts changed or the tail moved a quarter of the ring on (a
        reboot finds later messages by their numbers, and resends from the saved tail)."""
        if self._written < self.head and self.head > self.tail:
            self._spill()
            self._f.flush()  # the segment the last message went to
            self.writes += 1
        self._written = self.head  # delivered or written: nothing staged is owed
        saved = self._saved
        b = self._pos
        struct.pack_into(_POS, b, 0, self.head, self.tail, self.dropped, self.pending)
        moved = self.tail - struct.unpack_from(">I", saved, 4)[0]
        if b[8:16] != saved[8:16] or moved >= self.capacity // 4:
            self._save()

    def sync(self):
        """Write the staged messages and the positions if they changed."""
        if self._written < self.head:
            self._spill()
            self._f.flush()
            self.writes += 1
        b = self._pos
        struct.pack_into(_POS, b, 0, self.head, self.tail, self.dropped, self.pending)
        if _seal(b) != self._saved:
            self._save()

    def _save(self):
        b = _seal(self._pos)
        with open(self._tmp_path, "wb") as f:
            f.write(b)
        os.rename(self._tmp_path, self._pos_path)
        self.writes += 2
        self._saved[:] = b

    def close(self):
        self.sync()
        if self._f:
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
