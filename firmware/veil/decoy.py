"""Decoys: every fake track shows one virtual household through this device's sensors.

Each channel's reading is a shared slow **floor** plus a per-track **walk** above it:

- the floor is the public, slow part of the signal (season, weather, the building): the
  smallest hourly minimum of the *real* readings over the last few days, followed slowly. Every
  track shares it, so no public covariate singles out the real one, and occupancy (which only
  ever raises readings above the floor) barely moves it;
- each fake walk takes one step a tick, in the sensor's own grid units: a linear share of its
  last step (the sensor's momentum) plus an innovation drawn from a quantile table picked by
  the household's state (away, awake, asleep), the hour band, how high the walk sits above
  the floor and how it last moved (a step down or up, small or big, or still for so long).
  The tables are fitted on the home's own history (host/veil/privacy/profile.py), so fakes
  have the real sensor's grid, repeats, jitter, switching steps, tails and autocorrelation;
- a climate walk (temperature, humidity) also follows the real room's day as the seasons
  change it: it moves as much more than the fitted day as the real day's hourly curve does
  lately, and its steps are paced by how much the real readings jitter lately.

The real household is re-dealt every day at 04:00 local time (docs/protocol.md): in the
minutes before, every fake walk is drawn towards the real reading, so that whichever track
carries the real readings next starts where the real sensor is and the switch shows nowhere.

Randomness comes from one keystream per (household, device), addressed by sequence number, so
reboots never replay it. All state is in preallocated arrays; a tick creates no garbage.
"""

import array
import struct

from . import clock
from .households import Households
from .keystream import Keystream
from .proto import Hmac
from .slots import Slots

DAY = 86400
ANCHOR = 4 * 3600  # household days (and the re-deal) start at 04:00 local time
FRAC = 8  # innovations are in 1/8 grid steps
HALF = FRAC // 2  # a draw within half a step of 0 rounds to no step
KNOTS = 24  # knots per quantile row
RUNS = 10  # how a walk last moved: 4 kinds of step; 3 lengths of stillness after a step down or up
_ONE = 1 << 8  # fixed point of the floor


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


class Floor:
    """The smallest hourly minimum of the real readings over the last `hours` hours, followed
    with an exponential mean (rising with shift `shift`, sinking 16 times faster), in grid
    index units x 256."""

    def __init__(self, hours, shift):
        self.ring = array.array("i", [0] * hours)
        self.filled = 0
        self.shift = shift
        self.half = 1 << (shift - 1)  # rising, round: it reaches the minimum it follows
        self.down = shift - 4 if shift > 5 else 1  # a floor sinks 16 times faster than it rises
        self.cur = 0  # this hour's minimum
        self.hour = -1  # the hour it belongs to (day * 24 + hour)
        self.b = 0

    def follow(self, hour, i):
        """The real reading is at index i in `hour` (an hour count); returns the floor index."""
        ring = self.ring
        if hour != self.hour:
            if self.hour >= 0:
                ring[self.filled % len(ring)] = self.cur
                self.filled += 1
                if self.filled >= 2 * len(ring):
                    self.filled -= len(ring)  # stay small; only the position mod len matters
            else:
                self.b = i << 8
            self.hour = hour
            self.cur = i
        elif i < self.cur:
            self.cur = i
        low = self.cur
        n = self.filled if self.filled < len(ring) else len(ring)
        for j in range(n):
            if ring[j] < low:
                low = ring[j]
        low <<= 8
        if low > self.b:
            self.b += (low - self.b + self.half) >> self.shift
        else:
            self.b += (low - self.b) >> self.down
        return self.b >> 8


class Channel:
    """One channel's compiled model (see host/veil/privacy/profile.py for the fitted format)."""

    def __init__(self, spec, lo, hi, tables):
        """`lo`, `hi`: the channel's bounds in the device config; fakes stay inside them.
        `tables` is the open decoy.bin at this channel's tables: the context -> row index
        (bytes), then the rows' knot probabilities (u16) and values (i16), little-endian."""
        self.grid = Grid(spec["grid"][0], spec["grid"][1])
        self.imin = self.grid.index(max(lo, spec["range"][0]))
        self.imax = self.grid.index(min(hi, spec["range"][1]))
        self.floor = Floor(spec["floor"][0], spec["floor"][1])
        self.ylo, self.yhi = spec["y"]
        self.clamp = spec.get("clamp", 0)  # a light: stops at its bounds (dark), not bounces
        self.edges = array.array("i", spec["edges"])
        self.big = spec["big"]
        self.phi = spec["phi"]
        # a climate walk follows the real sensor's day: its mean height at each hour over the
        # last days (a day weighs 1 / 2**follow; at first the history's, `day`), against the
        # day its fakes made of themselves on the history (`aim`, sim.rehearse.calibrate):
        # a fake moves as its rows say plus how much more (or less) the real day's curve
        # moves now than the fakes' own (a profile without `day`: the history's, both)
        self.follow = spec.get("follow", 0)
        self.aim = array.array("i", [a << 8 for a in spec["aim"]]) if self.follow else None
        day = spec.get("day", spec.get("aim"))
        self.prof = array.array("i", [a << 8 for a in day]) if self.follow else None
        self.dm = 0  # how much more the real day's curve moved over this tick (x 256)
        self.hsum = self.hn = 0  # the real heights this hour, summed, and how many
        self.hcur = -1  # the hour of day (0-23) they belong to
        self.bands = spec["bands"]
        self.snap = spec["snap"]  # gaps a walk may close in one step before a re-deal
        # a climate sensor's usual |step| (x 256): a fake too far from the real reading to
        # meet it by the re-deal at half such steps is drawn towards it now
        self.reach = spec.get("reach", 0)
        self.start = array.array("i", spec["start"])
        rows = spec["rows"]
        nctx = 3 * self.bands * (len(self.edges) + 1) * RUNS
        # one buffer, read in place: row numbers by context, then every row's knot
        # probabilities (u16) and values (i16), little-endian
        self.tab = bytearray(nctx + 4 * KNOTS * rows)
        if tables.readinto(self.tab) != len(self.tab):
            raise ValueError("decoy.bin is short: provision the board again")
        self._p = nctx
        self._q = nctx + 2 * KNOTS * rows
        self.every = spec.get("every", 1)  # a model recorded at a longer period steps less often
        # how far walks go (x 256): smaller steps below, bigger ones above; at first what the
        # fit found its fakes needed on the history (host veil.sim.rehearse.calibrate), then,
        # for a climate sensor, whatever makes its fakes move as much as the real sensor has
        # lately (seasons and heating change it), each 256 readings 1 / 2**pace of the way
        self.gain = spec.get("scale", 256)
        self.pace = spec.get("pace", 0)
        self.win = self.ticks = 0  # the real readings' |step| summed, and how many, ...
        self.fwin = self.fn = 0  # ... and the fakes', in the current window of 256 ticks
        self.meant = 0  # the step the last draw meant
        self.skip = False  # whether the last draw skipped its tick
        # a climate walk may spend the curve's move on its toggles rather than push every
        # draw with it (the fit's check chooses): what the last step left of it (x 256)
        self.spend = spec.get("spend", 0) if self.follow else 0
        self.left = 0
        for c in range(nctx):
            if self.tab[c] >= rows:
                raise ValueError("decoy profile tables do not fit this firmware: refit it")

    def curve(self, sec, period):
        """How much more the real day's curve moves than the fit's over the tick ending at
        local second `sec` of the day (both as they stand now, so that a curve's hourly
        update is not a step every fake takes at once)."""
        p, a, before = self.prof, self.aim, sec - period
        self.dm = _at(p, sec) - _at(p, before) - _at(a, sec) + _at(a, before)

    def note(self, d, h, hour):
        """The real reading moved by d grid steps to height h above the floor at `hour` of the
        day: count the move for the pace, and follow the day's curve from each hour's mean
        (exact in small integers)."""
        if self.follow:
            if hour != self.hcur:
                if self.hn:
                    q = self.hsum // self.hn
                    mean = (q << 8) + ((self.hsum - q * self.hn) << 8) // self.hn
                    self.prof[self.hcur] += (mean - self.prof[self.hcur]) >> self.follow
                self.hcur, self.hsum, self.hn = hour, 0, 0
            self.hsum += h if -4096 < h < 4096 else (4095 if h > 0 else -4095)
            self.hn += 1
        if self.pace:
            d = d if d >= 0 else -d
            self.win += d if d < 1024 else 1023
            self.ticks += 1
            if self.ticks == 256:
                self.regain()

    def moved(self, d):
        """A fake walk of this channel moved by d grid steps: count it for the pace."""
        if self.pace:
            d = d if d >= 0 else -d
            self.fwin += d if d < 1024 else 1023
            self.fn += 1

    def regain(self):
        """At the end of a window of 256 real readings, bring the gain (1/4 to 4) a share of
        the way to where the fakes would have moved as much as the real readings did: the
        pace is fed back from what the fakes do, so whatever the model misses of this
        season (merged contexts, a calmer spring) the fakes still move as the room does."""
        if self.fn:
            real = (self.win << 8) // self.ticks  # mean |step| x 256, small ints on an ESP32
            fake = (self.fwin << 8) // self.fn
            r = (real << 8) // fake if fake else 4096
            g = self.gain * (r if r < 4096 else 4096) >> 8
            self.gain += (g - self.gain) >> self.pace
            self.gain = 64 if self.gain < 64 else 1024 if self.gain > 1024 else self.gain
        self.win = self.ticks = self.fwin = self.fn = 0

    def band(self, hour):
        return hour * self.bands // 24

    def typical(self, state, hour, r):
        """A height above the floor typical of `state` at `hour` (one of eight quantiles)."""
        return self.start[(state * self.bands + self.band(hour)) * 8 + (r & 7)]

    def _draw(self, row, u):
        """An innovation (1/8 grid steps) from quantile row `row` for u uniform in 0..65535:
        linear between knots, in small integers only (30-bit ints on an ESP32)."""
        t = self.tab
        p = self._p + 2 * row * KNOTS  # this row's first knot probability
        end = p + 2 * (KNOTS - 2)
        while p < end and t[p + 2] | t[p + 3] << 8 <= u:
            p += 2
        q = p - self._p + self._q
        p0 = t[p] | t[p + 1] << 8
        span = (t[p + 2] | t[p + 3] << 8) - p0
        q0 = t[q] | t[q + 1] << 8
        q1 = t[q + 2] | t[q + 3] << 8
        q0 -= 65536 if q0 > 32767 else 0
        q1 -= 65536 if q1 > 32767 else 0
        if span <= 0:
            return q1
        du = u - p0
        if span >= 4096:
            du >>= 4
            span >>= 4
        return q0 + (q1 - q0) * du // span

    def step(self, y, prev, still, state, hour, u):
        """The next step of a walk at height y above the floor that last moved by `prev` (and
        has been still for `still` & 127 ticks since a step up or down, bit 7), for a
        household in `state`; `self.left` is the curve's move the walk's last step left
        unspent (x 256): the caller sets it before and keeps what it is after."""
        lv = 0
        edges = self.edges
        while lv < len(edges) and y > edges[lv]:
            lv += 1
        if prev:
            run = (0 if -prev > self.big else 1) if prev < 0 else (3 if prev > self.big else 2)
        else:
            n = still & 127
            run = 4 + 3 * (still >> 7) + (0 if n <= 1 else 1 if n <= 5 else 2)
        ctx = ((state * self.bands + self.band(hour)) * (len(edges) + 1) + lv) * RUNS + run
        # a slower pace skips ticks rather than shrinking steps, so that a sensor's up-down
        # pairs and runs stay whole (shrunk, a toggle became a creep): the walk neither steps
        # nor ages on a skipped tick; the skip is decided by a Weyl mix of the same draw
        # (u x 40503 mod 2**16, in small ints), spread evenly over the rows' quantiles
        self.skip = (
            self.gain < 256
            and ((u & 255) * 40503 + ((u >> 8) * 55 << 8)) & 0xFFFF >= self.gain << 8
        )
        # spent on toggles, the curve's move adds up from tick to tick (skipped ticks too)
        # until a step can take it
        r = self.left + self.dm if self.spend else 0
        r = -2048 if r < -2048 else 2048 if r > 2048 else r  # at most 8 steps owed
        self.left = r
        if self.skip:
            self.meant = 0
            return 0 if self.spend or not self.follow else (self.dm + 128) >> 8
        x = self._draw(self.tab[ctx], u)
        # the step the walk means, as on the history (no pace, no curve): it is what the walk
        # remembers as its last step, so a pace above 1 cannot feed itself through the
        # contexts of big steps and the momentum
        mom = (self.phi * prev * FRAC) >> 8
        meant = (x + mom + FRAC // 2) // FRAC
        if self.gain > 256:  # the step the draw means, times the gain; its jitter kept,
            s = (x + HALF) // FRAC  # so rounding makes s x gain on average (0 stays 0)
            x += (s * FRAC * (self.gain - 256) + 128) >> 8
        x += mom
        if self.follow and not self.spend:  # the curve's extra move in 1/256 steps, added
            dm = self.dm  # before rounding (the draw's jitter dithers it, so a small move
            dm = -65535 if dm < -65535 else 65535 if dm > 65535 else dm  # still counts)
            x = -65535 if x < -65535 else 65535 if x > 65535 else x
            d = (x * 32 + dm + 128) >> 8
        else:
            d = (x + FRAC // 2) // FRAC
        if self.spend:  # the curve's move, owed in whole steps, is spent as a sensor spends
            # a slow rise: a step back against it is not taken, and a still tick steps only
            # when two steps are owed; the walk remembers the step it took
            if r >= 256 and (d < 0 or (d == 0 and r >= 512)):
                d += 1
                r -= 256
                meant = d
            elif r <= -256 and (d > 0 or (d == 0 and r <= -512)):
                d -= 1
                r += 256
                meant = d
            self.left = r
        if not self.ylo <= y + d <= self.yhi:
            if self.clamp:  # a light switched off reads dark, however bright it was
                d = meant = (self.ylo if y + d < self.ylo else self.yhi) - y
            else:  # others bounce back off the heights they may take (a door drawn to
                # open wider shuts: clamped, fake doors stayed open and told occupancy)
                d, meant = (-d, -meant) if self.ylo <= y - d <= self.yhi else (0, 0)
        self.meant = meant
        return d


class Decoys:
    def __init__(
        self, profile, tables, channels, k_decoy, dev, epoch, placement, tz=0, redeals=True
    ):
        """`tables` is decoy.bin, open (veil.config.tables); `placement[t]` the household shown
        on track t; `channels` the device's (name, dec, lo, hi); `tz` the home's offset from
        UTC in seconds; `redeals` whether the real household changes every day (protocol v2),
        so fakes meet the real reading before."""
        k = len(placement)
        self.placement = bytes(placement)
        self.households = Households(k_decoy, epoch, k, profile["occupancy"])
        self._tz = tz
        self._period = int(profile.get("period_s", 30))
        self._bridge = int(profile.get("bridge_s", 1800)) if redeals else -1
        models = [profile["channels"][c[0]] for c in channels]
        self.ch = [
            None if m.get("shared") else Channel(m, c[2], c[3], tables)
            for m, c in zip(models, channels)
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
        self.idx = [array.array("i", [0] * k) for _ in range(n)]  # each walk's grid index
        self.prev = [array.array("h", [0] * k) for _ in range(n)]  # its last step
        self.carry = [array.array("h", [0] * k) for _ in range(n)]  # its curve move left over
        # ticks since it last moved (to 127), and whether that move was up (bit 7)
        self.still = [bytearray(k) for _ in range(n)]
        self.base = array.array("i", [0] * n)  # each channel's floor index this tick
        self._fresh = True  # no walk yet: the first tick starts each at a typical height
        self.day = 0  # the household day of the tick (days start at 04:00 local time)
        self.sod = 0  # seconds since that day began
        self._hours = 0
        self._fail = 0  # the real track's failed channels this tick
        size = 14 + sum(_floor_bytes(ch) for ch in self.ch) + n * k * 9
        self._slots = Slots("decoy", size)
        self._snap = bytearray(size)

    def _clock(self, day, sec):
        """Household day, second of that day and the hour count of the moment (day, sec)
        (veil.clock: the UTC day and its second), in small integers."""
        self.day = clock.local_day(day, sec, self._tz - ANCHOR)
        self.sod = clock.local_sec(sec, self._tz - ANCHOR)
        self._hours = self.day * 24 + self.sod // 3600

    def _hour(self):
        return (self.sod // 3600 + 4) % 24

    def _curves(self):
        """Every climate walk's day's curve at this tick."""
        sec = (self.sod + ANCHOR) % DAY
        for ch in self.ch:
            if ch and ch.follow:  # a walk stepping every so many ticks: over its step
                ch.curve(sec, self._period * ch.every)

    def _moved(self, c, t, i, d):
        """Track t's channel c moved by d (as the walk remembers it) to grid index i: note its
        step, stillness and height."""
        self.prev[c][t] = d if -32768 <= d <= 32767 else (32767 if d > 0 else -32768)
        st = self.still[c]
        if d:
            st[t] = 128 if d > 0 else 0
        elif st[t] & 127 < 127:
            st[t] += 1
        self.idx[c][t] = i

    def _advance(self, t, seq, state, values, mask, real_values, near=False):
        """Step track t's channels in `mask` and write their new values into `values`; with
        `real_values`, draw the walks towards the real readings that must meet them by the
        next re-deal (all of them when `near` it)."""
        ks = self._ks[t]
        hour = self._hour()
        left = DAY - self.sod  # seconds to the next re-deal
        fresh = -1  # the keystream block in ks.out
        for c in range(len(self.ch)):
            if mask >> c & 1:
                ch = self.ch[c]
                if not seq % ch.every:
                    if fresh != c >> 3:
                        fresh = c >> 3
                        ks.block(seq, fresh)  # one draw a channel, eight channels a block
                    # the height above this tick's floor: a walk's steps are the sensor's
                    # own (fitted on its readings, floor moves included), so the floor
                    # steers a walk through its height, and never moves it by itself
                    i = self.idx[c][t]
                    y = i - self.base[c]
                    prev, still = self.prev[c], self.still[c]
                    ch.left = self.carry[c][t]
                    d = ch.step(y, prev[t], still[t], state, hour, ks.u16(c & 7))
                    self.carry[c][t] = ch.left
                    if real_values is not None and (near or ch.reach) and not self._fail >> c & 1:
                        d += self._pull(c, t, y + d, real_values[c], left, seq, near)
                        if near:
                            fresh = -1  # the pull may have drawn a block of its own
                    i += d
                    i = ch.imin if i < ch.imin else ch.imax if i > ch.imax else i
                    ch.moved(i - self.idx[c][t])
                    if ch.skip:
                        self.idx[c][t] = i
                    else:
                        self._moved(c, t, i, ch.meant)
                values[c] = ch.grid.value(self.idx[c][t])

    def _pull(self, c, t, y, real, left, seq, near):
        """The extra step towards the real reading's height before a re-deal: a share of the
        gap that grows as the re-deal nears. In the last `bridge` seconds of a day every walk
        is drawn, and a gap of at most `snap` steps is closed at one keyed moment of the
        window (uniform in time), as a sensor would. Before the bridge, a climate walk is
        drawn only while its gap needs more of its steps than are left at half its usual
        size: a fake degrees off the real room then drifts back over the day at half a step a
        tick, where the bridge alone made it climb in a straight line in its last hours."""
        ch = self.ch[c]
        gap = ch.grid.index(real) - self.base[c] - y
        if not gap:
            return 0
        if not near:
            g = gap if gap > 0 else -gap
            g = g if g < 1 << 20 else (1 << 20) - 1
            if g << 9 < left // (self._period * ch.every) * ch.reach:
                return 0
        elif -ch.snap <= gap <= ch.snap:
            ks = self._ks[t]
            ks.block(seq, 0x10000 + (c >> 3))
            # P(now) = period / left: a moment uniform over the window, certain by its end
            if ks.u16(c & 7) * left < 65536 * self._period:
                return gap
            return 0
        den = left + 2 * self._period
        return (gap * self._period + (den >> 1 if gap > 0 else -(den >> 1))) // den

    def tick(self, seq, day, sec, real, values, real_values, fail_mask):
        """Fill `values[t]` for every fake track and stand-ins for the real track's channels in
        `fail_mask`, for the reading taken at (day, sec) (veil.clock); the real track's other
        channels feed the floor and its own walk."""
        self._clock(day, sec)
        self._curves()
        self._fail = fail_mask
        states = self.households.at(self.day, self.sod)
        walked = self.walked
        for c in range(len(self.ch)):
            ch = self.ch[c]
            if walked >> c & 1 and not fail_mask >> c & 1:
                f = ch.floor.follow(self._hours, ch.grid.index(real_values[c]))
                self.base[c] = f
        if self._fresh:
            self._fresh = False
            self._begin(seq, states, real, real_values, fail_mask)
        for c in range(len(self.ch)):
            if walked >> c & 1 and not fail_mask >> c & 1:
                ch = self.ch[c]
                i = ch.grid.index(real_values[c])
                d = i - self.idx[c][real]
                ch.note(d, i - self.base[c], self._hour())
                self._moved(c, real, i, d)
        near = DAY - self.sod <= self._bridge
        pull = real_values if self._bridge >= 0 else None
        for t in range(len(self.placement)):
            state = states[self.placement[t]]
            if t == real:
                if fail_mask & walked:
                    self._advance(t, seq, state, real_values, fail_mask & walked, None)
            else:
                self._advance(t, seq, state, values[t], walked, pull, near)
                for c in range(len(self.ch)):
                    if not walked >> c & 1:
                        values[t][c] = real_values[c]

    def _begin(self, seq, states, real, real_values, fail_mask):
        """Start the real walk at the first real reading and every fake walk at a height typical
        of its household's state, drawn from keystream positions no tick uses."""
        hour = self._hour()
        for t in range(len(self.placement)):
            ks = self._ks[t]
            for c in range(len(self.ch)):
                if c & 7 == 0:
                    ks.block(seq, 0xFFFFFFFF - (c >> 3))
                ch = self.ch[c]
                if not ch:
                    continue
                if t == real and not fail_mask >> c & 1:
                    i = ch.grid.index(real_values[c])
                else:
                    i = self.base[c] + ch.typical(states[self.placement[t]], hour, ks.u16(c & 7))
                    i = ch.imin if i < ch.imin else ch.imax if i > ch.imax else i
                self.idx[c][t] = i

    def save(self, seq, day, sec):
        """Snapshot every walk and floor, so a reboot can carry the fakes on seamlessly."""
        b = self._snap
        struct.pack_into(">QHI", b, 0, seq, day, sec)
        p = 14
        for c in range(len(self.ch)):
            ch = self.ch[c]
            if ch:
                f = ch.floor
                floor = (f.b, f.cur, f.hour, f.filled, self.base[c], ch.gain)
                struct.pack_into(">iiiiii", b, p, *floor)
                p += 24
                for j in range(len(f.ring)):
                    struct.pack_into(">i", b, p, f.ring[j])
                    p += 4
                if ch.follow:
                    struct.pack_into(">iii", b, p, ch.hsum, ch.hn, ch.hcur)
                    p += 12
                    for j in range(24):
                        struct.pack_into(">i", b, p, ch.prof[j])
                        p += 4
            for t in range(len(self.placement)):
                idx, prev, still = self.idx[c], self.prev[c], self.still[c]
                struct.pack_into(">ihBh", b, p, idx[t], prev[t], still[t], self.carry[c][t])
                p += 9
        self._slots.store(b)

    def restore(self, seq, period_s, real):
        """Load the last snapshot (taken after tick `at`) and replay the fakes' ticks up to
        `seq`, as they were drawn before the reboot (same keystream positions, estimated
        times): the fakes continue where they were, as the real sensor does."""
        snap = self._slots.load(_later)
        if snap is None:
            return
        self._fresh = False
        at, day, sec = struct.unpack_from(">QHI", snap, 0)
        p = 14
        for c in range(len(self.ch)):
            ch = self.ch[c]
            if ch:
                f = ch.floor
                f.b, f.cur, f.hour, f.filled, self.base[c], ch.gain = struct.unpack_from(
                    ">iiiiii", snap, p
                )
                p += 24
                for j in range(len(f.ring)):
                    f.ring[j] = struct.unpack_from(">i", snap, p)[0]
                    p += 4
                if ch.follow:
                    ch.hsum, ch.hn, ch.hcur = struct.unpack_from(">iii", snap, p)
                    p += 12
                    for j in range(24):
                        ch.prof[j] = struct.unpack_from(">i", snap, p)[0]
                        p += 4
            for t in range(len(self.placement)):
                i, d, s, r = struct.unpack_from(">ihBh", snap, p)
                self.idx[c][t], self.prev[c][t], self.still[c][t], self.carry[c][t] = i, d, s, r
                p += 9
        scratch = [0] * len(self.ch)
        while True:
            at += 1
            sec += period_s
            day, sec = day + sec // DAY, sec % DAY
            if at >= seq:
                break
            self._clock(day, sec)
            self._curves()
            states = self.households.at(self.day, self.sod)
            for t in range(len(self.placement)):
                if t != real:
                    self._advance(t, at, states[self.placement[t]], scratch, self.walked, None)
        for ch in self.ch:  # the pace counts the fakes' moves beside the real ones only
            if ch:
                ch.fwin = ch.fn = 0


def _at(curve, sec):
    """A day's curve (24 hourly means x 256) at local second `sec`: each hour's mean at its
    middle, linear between."""
    s = (sec - 1800) % 86400
    h = s // 3600
    f = (s - h * 3600) >> 4  # 0..224
    return (curve[h] * (225 - f) + curve[h + 1 if h < 23 else 0] * f) // 225


def _floor_bytes(ch):
    """What a channel's floor (and day's curve) takes in a snapshot."""
    if not ch:
        return 0
    return 24 + 4 * len(ch.floor.ring) + (12 + 4 * 24 if ch.follow else 0)


def _later(a, b):
    return struct.unpack_from(">Q", a, 0)[0] > struct.unpack_from(">Q", b, 0)[0]
