"""Keyed randomness for the decoys: AES of a counter block, addressed by two numbers.

Decoys must be unpredictable without the key, or an attacker who recovered a weak generator's
state could single out the fakes; and they must be reproducible from (key, position) alone, so
that every device of a home draws the same household story and a reboot replays nothing.
cryptolib has only ECB, so blocks are encrypted in place into a preallocated buffer: drawing
numbers creates no garbage.
"""

import struct

import cryptolib


class Keystream:
    def __init__(self, key):
        self._aes = cryptolib.aes(key, 1)
        self._in = bytearray(16)
        self.out = bytearray(16)

    def block(self, a, b):
        """Fill `out` with the block for position (a, b); a < 2**64, b < 2**32."""
        struct.pack_into(">QI", self._in, 0, a, b)
        self._aes.encrypt(self._in, self.out)

    def u16(self, j):
        """The j-th of the 8 uniform 16-bit numbers in the current block."""
        return (self.out[2 * j] << 8) | self.out[2 * j + 1]
