"""First decoy generator: plausible, sensor-quantised values for the fake tracks.

Each fake track follows a mean-reverting random walk per channel, drawn from a keyed stream
of its household, clamped to the channel's bounds and moved in steps of the sensor's
quantum. It is deliberately simple; realistic households are the decoy model's next step.

Channel options (config "channels" entries): `mu` centre, `sd` spread, `q` quantum, `min`
and `max` the range the fakes keep to (default: the channel's bounds), all as integers n like
the readings. Integer arithmetic only: no floats, no garbage per tick.
"""

import struct

from .keystream import Keystream
from .proto import Hmac


class Decoys:
    def __init__(self, channels, k_decoy, dev, epoch, households):
        """`households[t]` is the household shown on track t (the device's placement)."""
        mac = Hmac(k_decoy)
        self._streams = []
        for h in households:
            seed = b"walk" + struct.pack(">IBB", epoch, h, len(dev)) + dev
            self._streams.append(Keystream(mac.digest(seed)))
        self._ch = []
        for c in channels:
            lo, hi = c.get("min", c["lo"]), c.get("max", c["hi"])
            q = max(1, c.get("q", 1))
            mu = c.get("mu", (lo + hi) // 2)
            sd = max(q, c.get("sd", (hi - lo) // 8))
            self._ch.append((lo, hi, q, mu, sd))
        self.state = [[0] * len(channels) for _ in households]
        for t in range(len(households)):
            s = self._streams[t]
            for i, (lo, hi, q, mu, sd) in enumerate(self._ch):
                self.state[t][i] = self._clamp(mu + (s.below(2 * sd + 1) - sd), lo, hi, q)

    @staticmethod
    def _clamp(x, lo, hi, q):
        x -= (x - lo) % q
        return lo if x < lo else hi if x > hi else x

    def fill(self, trk, values):
        """Advance track `trk` by one tick and copy its values into `values`."""
        s = self._streams[trk]
        st = self.state[trk]
        for i in range(len(st)):
            st[i] = values[i] = self._step(s, i, st[i])

    def _step(self, s, i, x):
        lo, hi, q, mu, sd = self._ch[i]
        x += (mu - x) >> 4
        r = s.below(8)
        if r == 0:
            x -= q
        elif r == 1:
            x += q
        elif r == 2 and sd > q:
            x += (s.below(2 * sd + 1) - sd) >> 2
        return self._clamp(x, lo, hi, q)

    def stand_in(self, trk, values, mask):
        """Keep the real track's walk on the real readings and replace the channels in `mask`
        with a step of that walk, so a stand-in continues from the last real value."""
        s = self._streams[trk]
        st = self.state[trk]
        for i in range(len(st)):
            if mask & (1 << i):
                values[i] = self._step(s, i, st[i])
            st[i] = values[i]
