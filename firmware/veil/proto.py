"""Wire protocol (versions 1 and 2) on the device: key derivation, track roles, record encoding.

docs/protocol.md is the definition; host/veil/protocol.py is the laptop's implementation and
tests/vectors/v1.json and v2.json hold the vectors both must reproduce. Everything here is
written for MicroPython's small heap: buffers are allocated once per device and records are
built in place.
"""

import hashlib
import struct

from micropython import const

VERSION = const(2)  # the newest; the config says which one a device speaks
TAG_LEN = const(16)
SEQ_DIGITS = const(15)  # seq < 2**48
WIDE_DIGITS = const(10)  # ep, boot, ts < 2**32
MAX_K = const(16)
MAX_CHANNELS = const(24)  # the stand-in mask is bits 0-23 of the hidden field
MAX_DROPS = const(255)  # the drop report is bits 24-31

_HEX = b"0123456789abcdef"

# HKDF labels of the subkeys, in the order config.subkeys() returns them.
LABELS = (b"veil/v1/tag/real", b"veil/v1/tag/fake", b"veil/v1/track", b"veil/v1/decoy")


class Hmac:
    """HMAC-SHA256 with the padded keys prepared once (MicroPython's hashlib has no copy())."""

    def __init__(self, key):
        if len(key) > 64:
            key = hashlib.sha256(key).digest()
        ipad = bytearray(64)
        opad = bytearray(64)
        for i in range(64):
            b = key[i] if i < len(key) else 0
            ipad[i] = b ^ 0x36
            opad[i] = b ^ 0x5C
        self._ipad = bytes(ipad)
        self._opad = bytes(opad)

    def digest(self, msg):
        h = hashlib.sha256(self._ipad)
        h.update(msg)
        inner = h.digest()
        h = hashlib.sha256(self._opad)
        h.update(inner)
        return h.digest()


def subkey(home_key, label):
    """One HKDF-Expand block: HMAC(K, label || 0x01)."""
    return Hmac(home_key).digest(label + b"\x01")


def _word(block, n):
    return struct.unpack_from(">I", block, 4 * n)[0]


def placement(k_track, dev, ep, k):
    """Keyed permutation: p[t] is the household shown on track t of device `dev`."""
    mac = Hmac(k_track)
    stream = b""
    words = k - 1
    c = 0
    while len(stream) < 4 * words:
        stream += mac.digest(b"place" + struct.pack(">IB", ep, len(dev)) + dev + bytes((c,)))
        c += 1
    p = list(range(k))
    for n in range(words):
        i = k - 1 - n
        j = _word(stream, n) % (i + 1)
        p[i], p[j] = p[j], p[i]
    return p


def real_household(k_track, ep, k, day=None):
    """The real household: of the whole epoch (v1, `day` None) or of one household day (v2)."""
    msg = b"real" + struct.pack(">I", ep)
    if day is not None:
        msg += struct.pack(">I", day % 4294967296)  # a day before 1970 wraps (never in use)
    return _word(Hmac(k_track).digest(msg), 0) % k


def real_track(k_track, dev, ep, k, day=None):
    return placement(k_track, dev, ep, k).index(real_household(k_track, ep, k, day))


def _digits(n):
    d = 1
    while n >= 10:
        n //= 10
        d += 1
    return d


def put_uint(buf, pos, n):
    """Write integer n >= 0 in decimal at buf[pos:]; returns the end (also for transports)."""
    end = pos + _digits(n)
    i = end
    while True:
        i -= 1
        buf[i] = 48 + n % 10
        n //= 10
        if not n:
            return end


def put_ts(buf, pos, day, sec):
    """Write the Unix time day * 86400 + sec in decimal at buf[pos:], as two numbers of five
    digits (ts = high * 10**5 + low), so that no integer of 2**30 or more is built."""
    a = day * 864  # ts = a * 100 + sec
    high = a // 1000
    low = (a - high * 1000) * 100 + sec
    high += low // 100000
    low %= 100000
    if not high:
        return put_uint(buf, pos, low)
    pos = put_uint(buf, pos, high)
    i = pos + 5
    while i > pos:
        i -= 1
        buf[i] = 48 + low % 10
        low //= 10
    return pos + 5


def _put_fixed(buf, pos, n, dec):
    """Write integer n as a JSON number with exactly `dec` decimals (2494, 2 -> 24.94)."""
    if n < 0:
        buf[pos] = 45
        pos += 1
        n = -n
    if not dec:
        return put_uint(buf, pos, n)
    scale = 10**dec
    pos = put_uint(buf, pos, n // scale)
    buf[pos] = 46
    frac = n % scale
    i = pos + dec
    while i > pos:
        buf[i] = 48 + frac % 10
        frac //= 10
        i -= 1
    return pos + dec + 1


def _fixed_width(n, dec):
    return (1 if n < 0 else 0) + _digits(abs(n) // 10**dec) + (dec + 1 if dec else 0)


def put(buf, pos, frag):
    """Copy bytes `frag` to buf[pos:]; returns the end."""
    end = pos + len(frag)
    buf[pos:end] = frag
    return end


class Encoder:
    """Encodes the records of one device: canonical bytes, tag and JSON line, all in place.

    `channels` is a sequence of (name, dec, lo, hi). `encode()` returns a memoryview of the
    JSON line (length `size`, newline included) that stays valid until the next call.
    """

    def __init__(self, dev, k, epoch, channels, k_real, k_fake, version=1):
        dev = dev.encode() if isinstance(dev, str) else dev
        self.k = k
        self.epoch = epoch
        self._dec = bytes(c[1] for c in channels)
        self._real = Hmac(k_real)
        self._fake = Hmac(k_fake)

        head = b"veil" + bytes((version, 0, 0, 0, 0, len(dev))) + dev
        self._var = len(head)
        canon = bytearray(head + bytes(22) + bytes((len(channels),)))
        self._voff = []
        for name, dec, _lo, _hi in channels:
            name = name.encode() if isinstance(name, str) else name
            canon += bytes((len(name),)) + name + bytes((dec,))
            self._voff.append(len(canon))
            canon += bytes(4)
        self._canon = canon

        ep = bytearray(WIDE_DIGITS)
        ep = bytes(ep[: put_uint(ep, 0, epoch)])  # written once: an epoch may be a big integer
        start = b'{"v":' + str(version).encode() + b',"dev":"' + dev + b'","ep":' + ep
        self._frags = [start + b',"boot":']
        self._frags += [b',"seq":', b',"trk":', b',"ts":']
        sep = b',"val":{"'
        width = 0
        for name, dec, lo, hi in channels:
            name = name.encode() if isinstance(name, str) else name
            self._frags.append(sep + name + b'":')
            sep = b',"'
            width += max(_fixed_width(lo, dec), _fixed_width(hi, dec))
        self._frags.append(b'},"tag":"')
        fixed = sum(len(f) for f in self._frags) + 2 * TAG_LEN + 3  # '"', '}', '\n'
        self.size = fixed - len(ep) + 3 * WIDE_DIGITS + SEQ_DIGITS + 2 + width  # ep: in fixed
        self._line = bytearray(self.size)
        self._tail = bytearray(4)
        self._mv = memoryview(self._line)

    def encode(self, mask, boot, seq, trk, day, sec, values, real, drops=0):
        """Build the record of track `trk` for one tick; `values` are integers n per channel,
        (day, sec) the reading's time (veil.clock). The real track's hidden field carries
        `mask` (its stand-in channels) and `drops` (the outbox's drop report), docs/protocol.md
        4.1, 4.2, 4.4; both are 0 on fakes. The field and the time are packed in parts, so no
        integer of 2**30 or more (a heap object on an ESP32) is built."""
        c = self._canon
        struct.pack_into(">I", c, 5, 0)
        # ts = day * 86400 + sec = day * 65536 + low, with low = day * 20864 + sec < 2**30
        # until 2110; the two 16-bit halves of ts follow from it.
        low = day * 20864 + sec
        struct.pack_into(
            ">IIQBBHH",
            c,
            self._var,
            self.epoch,
            boot,
            seq,
            trk,
            self.k,
            day + (low >> 16),
            low & 0xFFFF,
        )
        for i in range(len(self._voff)):
            struct.pack_into(">i", c, self._voff[i], values[i])
        tag = (self._real if real else self._fake).digest(c)
        hidden = mask or drops
        if hidden:
            h0 = tag
            c[5] = drops
            c[6] = (mask >> 16) & 0xFF
            c[7] = (mask >> 8) & 0xFF
            c[8] = mask & 0xFF
            tag = self._real.digest(c)
            tail = self._tail
            for i in range(4):
                tail[i] = h0[12 + i] ^ c[5 + i]

        b = self._line
        f = self._frags
        p = put(b, 0, f[0])
        p = put_uint(b, p, boot)
        p = put(b, p, f[1])
        p = put_uint(b, p, seq)
        p = put(b, p, f[2])
        p = put_uint(b, p, trk)
        p = put(b, p, f[3])
        p = put_ts(b, p, day, sec)
        for i in range(len(self._dec)):
            p = put(b, p, f[4 + i])
            p = _put_fixed(b, p, values[i], self._dec[i])
        p = put(b, p, f[-1])
        for i in range(TAG_LEN):
            x = tag[i] if not hidden or i < 12 else tail[i - 12]
            b[p] = _HEX[x >> 4]
            b[p + 1] = _HEX[x & 15]
            p += 2
        b[p] = 34
        end = self.size - 2
        while p < end:
            p += 1
            b[p] = 32
        b[end] = 125
        b[end + 1] = 10
        return self._mv

    def canonical(self):
        """The canonical bytes of the last encoded record (for tests and vectors)."""
        return bytes(self._canon)
