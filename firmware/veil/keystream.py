"""A keyed pseudo-random stream for the decoy generators: AES in counter mode.

Decoys must be unpredictable without the key, or an attacker who recovers a weak generator's
state could single out the fakes. cryptolib has only ECB, so the counter is encrypted in place
into a preallocated block; drawing numbers creates no garbage.
"""

import cryptolib


class Keystream:
    def __init__(self, key):
        self._aes = cryptolib.aes(key, 1)
        self._ctr = bytearray(16)
        self._blk = bytearray(16)
        self._pos = 16

    def _refill(self):
        c = self._ctr
        i = 15
        while i >= 0:
            c[i] = (c[i] + 1) & 0xFF
            if c[i]:
                break
            i -= 1
        self._aes.encrypt(c, self._blk)
        self._pos = 0

    def u16(self):
        """A uniform integer in 0 .. 65535."""
        if self._pos >= 16:
            self._refill()
        p = self._pos
        self._pos = p + 2
        return (self._blk[p] << 8) | self._blk[p + 1]

    def below(self, n):
        """A nearly uniform integer in 0 .. n-1 for n <= 65536 (bias below n / 2**16)."""
        return (self.u16() * n) >> 16
