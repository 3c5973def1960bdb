"""Decoys: every fake track shows one virtual household through this device's sensors.

A channel model (from the decoy profile, fitted on real readings by `veil profile fit`) moves
a reading along the sensor's own value grid: each tick it draws a step, in grid units, with
weights set by the household's state (away, awake, asleep), the hour band and how far the
reading sits above the home's slow baseline, times a factor set by where the walk sits against
its own last quarter hour and by its last move. So fakes have the real sensor's grid, repeats,
jitter, switching steps, step tails and autocorrelation.

The baseline is the slow, public part of the signal (season, weather, the building): it is
tracked from the real readings and shared by every track, so that a public covariate cannot
single out the real one. A channel that is public outright (air pressure: the weather station
next door reports it) has a "shared" model: every track carries the real reading.

Randomness comes from one keystream per (household, device), addressed by sequence number, so
reboots never replay it. All state is in preallocated arrays; a tick creates no garbage.
"""

import array
import struct

from .households import Households
from .keystream import Keystream
from .proto import Hmac
from .slots import Slots

# the last move of a walk: down by 2 or more just now, down by 1 just now, down before, none,
# up before, up by 1 just now, up by 2 or more just now (host/veil/privacy/profile.py MOVES)
_NONE = 3
_AFTER_STILL = b"\x02\x02\x02\x03\x04\x04\x04"  # the last move after a tick without one


class Grid:
    """The values a sensor can report: `period` apart, at `offsets` within each period (a
    DS18B20's 1/16 degC rounded to 0.01 is period 25, offsets 0, 6, 13, 19)."""

    def __init__(self, period, offsets):
        self.p = period
        self.offs = array.array("i", offsets)
        self.m = len(offsets)

    def index(self, v):
        q = v // self.p
        r = v - q * self.p
        j = self.m - 1
        while j > 0 and self.offs[j] > r:
            j -= 1
        return q * self.m + j

    def value(self, i):
        q = i // self.m
        return q * self.p + self.offs[i - q * self.m]


class Channel:
    """One channel's compiled model (see host/veil/privacy/profile.py for the fitted format)."""

    def __init__(self, spec, lo, hi):
        """`lo`, `hi`: the channel's bounds in the device config; fakes stay inside them."""
        self.grid = Grid(spec["grid"][0], spec["grid"][1])
        self.imin = self.grid.index(max(lo, spec["range"][0]))
        self.imax = self.grid.index(min(hi, spec["range"][1]))
        self.levels = array.array("i", spec["levels"])
        self.local = spec["local"]
        self.start = array.array("i", spec["start"])
        self.band = bytes(spec["band"])  # hour -> band
        self.nbands = max(self.band) + 1
        self.support = array.array("h", spec["support"])
        self.rows = bytes(spec["rows"])
        self.moves = bytes(spec["moves"])
        n = len(self.support)
        self.split = len(self.moves) > 21 * n  # move factors per level (two-level sensors)
        self.w = array.array("I", bytes(4 * n))  # one draw's weights, reused by every step
        if len(self.rows) != 3 * self.nbands * (len(self.levels) + 1) * (n + 2):
            raise ValueError("decoy profile tables do not fit this firmware: refit the profile")
        self.up, self.down = spec["base"]
        self.every = spec.get("every", 1)  # a model recorded at a longer period steps less often
        self.base = (self.imin + (self.imax - self.imin) // 3) << 8  # fixed point; see begin()

    def follow(self, i):
        """Move the shared baseline towards a real reading (index units)."""
        d = (i << 8) - self.base
        self.base += d >> (self.up if d > 0 else self.down)

    def typical(self, state, hour, r):
        """A level typical of `state` at `hour` (one of eight quantiles, picked by r)."""
        at = (state * self.nbands + self.band[hour]) * 8 + (r & 7)
        return self._clamp((self.base >> 8) + self.start[at])

    def _clamp(self, i):
        return self.imin if i < self.imin else self.imax if i > self.imax else i

    def step(self, i, loc, prev, state, hour, r1, r2):
        """The next index after `i` for a household in `state`: `loc` is the walk's own
        short-term mean (fixed point), `prev` its last move, r1 and r2 uniform in 0..65535."""
        d = (i << 8) - loc
        near = 0 if d < -128 else 2 if d > 128 else 1
        d = i - (self.base >> 8)
        lv = 0
        levels = self.levels
        while lv < len(levels) and d >= levels[lv]:
            lv += 1
        n = len(self.support)
        row = ((state * self.nbands + self.band[hour]) * (len(levels) + 1) + lv) * (n + 2)
        rows = self.rows
        if r1 < rows[row + 1] * 257:
            return self.typical(state, hour, r1)
        flag = rows[row]
        m = ((lv if self.split else 0) * 3 + near) * 7 * n + prev * n
        support, moves, w = self.support, self.moves, self.w
        total = 0
        for k in range(n):  # flag 1 lets only steps down pass, flag 2 only steps up
            step = support[k]
            if (flag == 1 and step > 0) or (flag == 2 and step < 0):
                w[k] = 0
            else:
                w[k] = rows[row + 2 + k] * moves[m + k]
                total += w[k]
        if not total:
            return i
        left = ((r2 >> 6) * ((total >> 4) + 1)) >> 6  # r2 * total / 65536 in small ints
        for k in range(n):
            left -= w[k]
            if left < 0:
                return self._clamp(i + support[k])
        return i


class Decoys:
    def __init__(self, profile, channels, k_decoy, dev, epoch, placement):
        """`placement[t]` is the household shown on track t; `channels` the device's (name,
        dec, lo, hi)."""
        k = len(placement)
        self.placement = bytes(placement)
        self.households = Households(
            k_decoy, epoch, k, profile["occupancy"], profile.get("tz_offset_s", 0)
        )
        self._tz = profile.get("tz_offset_s", 0)
        models = [profile["channels"][c[0]] for c in channels]
        self.ch = [
            None if m.get("shared") else Channel(m, c[2], c[3]) for m, c in zip(models, channels)
        ]
        self.walked = 0  # channels with a walk of their own; the others are shared
        for c in range(len(self.ch)):
            if self.ch[c]:
                self.walked |= 1 << c
        mac = Hmac(k_decoy)
        self._ks = [
            Keystream(mac.digest(b"noise" + struct.pack(">IBB", epoch, h, len(dev)) + dev))
            for h in placement
        ]
        n = len(self.ch)
        self.idx = [array.array("i", [0] * k) for c in self.ch]
        self._fresh = True  # no walk yet: the first tick starts each at a typical level
        self.prev = [bytearray([_NONE] * k) for _ in range(n)]
        self.loc = [array.array("i", [0] * k) for _ in range(n)]
        self._slots = Slots("decoy", 12 + n * 4 + n * k * 9)
        self._snap = bytearray(12 + n * 4 + n * k * 9)

    def _hour(self, ts):
        return ((ts + self._tz) % 86400) // 3600

    def _moved(self, c, t, i):
        """Track t's channel c is now at index i: note the move (or its absence) and fold it
        into the walk's short-term mean."""
        d = i - self.idx[c][t]
        prev = self.prev[c]
        prev[t] = (
            _AFTER_STILL[prev[t]] if not d else 0 if d < -1 else 1 if d < 0 else 5 if d < 2 else 6
        )
        self.idx[c][t] = i
        loc = self.loc[c]
        loc[t] += ((i << 8) - loc[t]) >> self.ch[c].local

    def _advance(self, t, seq, hour, state, values, mask):
        """Step track t's channels in `mask` and write their new values into `values`."""
        ks = self._ks[t]
        for c in range(len(self.ch)):
            if c & 3 == 0:
                ks.block(seq, c >> 2)  # two draws a channel, four channels a block
            if mask >> c & 1:
                ch = self.ch[c]
                if not seq % ch.every:
                    j = 2 * (c & 3)
                    i = ch.step(
                        self.idx[c][t],
                        self.loc[c][t],
                        self.prev[c][t],
                        state,
                        hour,
                        ks.u16(j),
                        ks.u16(j + 1),
                    )
                    self._moved(c, t, i)
                values[c] = ch.grid.value(self.idx[c][t])

    def tick(self, seq, ts, real, values, real_values, fail_mask):
        """Fill `values[t]` for every fake track and stand-ins for the real track's channels in
        `fail_mask`; the real track's other channels feed the baseline and its own walk."""
        states = self.households.at(ts)
        hour = self._hour(ts)
        walked = self.walked
        if self._fresh:
            self._fresh = False
            self._begin(seq, states, hour, real, real_values, fail_mask)
        for c in range(len(self.ch)):
            if walked >> c & 1 and not fail_mask >> c & 1:
                ch = self.ch[c]
                i = ch.grid.index(real_values[c])
                ch.follow(i)
                self._moved(c, real, i)
        for t in range(len(self.placement)):
            state = states[self.placement[t]]
            if t == real:
                if fail_mask & walked:
                    self._advance(t, seq, hour, state, real_values, fail_mask & walked)
            else:
                self._advance(t, seq, hour, state, values[t], walked)
                for c in range(len(self.ch)):
                    if not walked >> c & 1:
                        values[t][c] = real_values[c]

    def _begin(self, seq, states, hour, real, real_values, fail_mask):
        """Start each baseline and the real walk at the first real reading, and every fake walk
        at a level typical of its household's state, drawn from keystream positions no tick
        uses."""
        for c in range(len(self.ch)):
            if self.walked >> c & 1 and not fail_mask >> c & 1:
                self.ch[c].base = self.ch[c].grid.index(real_values[c]) << 8
        for t in range(len(self.placement)):
            ks = self._ks[t]
            for c in range(len(self.ch)):
                if c & 7 == 0:
                    ks.block(seq, 0xFFFFFFFF - (c >> 3))
                if not self.walked >> c & 1:
                    continue
                i = self.ch[c].typical(states[self.placement[t]], hour, ks.u16(c & 7) >> 3)
                if t == real and not fail_mask >> c & 1:
                    i = self.ch[c].grid.index(real_values[c])
                self.idx[c][t] = i
                self.loc[c][t] = i << 8

    def save(self, seq, ts):
        """Snapshot every walk and baseline, so a reboot can carry the fakes on seamlessly."""
        b = self._snap
        struct.pack_into(">QI", b, 0, seq, ts)
        p = 12
        for c in range(len(self.ch)):
            struct.pack_into(">i", b, p, self.ch[c].base if self.ch[c] else 0)
            p += 4
            for t in range(len(self.placement)):
                struct.pack_into(">iiB", b, p, self.idx[c][t], self.loc[c][t], self.prev[c][t])
                p += 9
        self._slots.store(b)

    def restore(self, seq, period_s, real):
        """Load the last snapshot (taken after tick `at`) and replay the ticks up to `seq`, as
        they were drawn before the reboot (same keystream positions, estimated times): the
        fakes continue where they were, as the real sensor does."""
        snap = self._slots.load(_later)
        if snap is None:
            return
        self._fresh = False
        at, ts = struct.unpack_from(">QI", snap, 0)
        at += 1
        ts += period_s
        p = 12
        for c in range(len(self.ch)):
            if self.ch[c]:
                self.ch[c].base = struct.unpack_from(">i", snap, p)[0]
            p += 4
            for t in range(len(self.placement)):
                self.idx[c][t], self.loc[c][t], self.prev[c][t] = struct.unpack_from(
                    ">iiB", snap, p
                )
                p += 9
        scratch = [0] * len(self.ch)
        while at < seq:
            states = self.households.at(ts)
            hour = self._hour(ts)
            for t in range(len(self.placement)):
                if t != real:
                    self._advance(t, at, hour, states[self.placement[t]], scratch, self.walked)
            at += 1
            ts += period_s


def _later(a, b):
    return struct.unpack_from(">Q", a, 0)[0] > struct.unpack_from(">Q", b, 0)[0]
