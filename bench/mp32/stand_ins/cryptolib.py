"""A stand-in for MicroPython's cryptolib.aes (ECB encryption only), for measuring the
firmware under the WebAssembly port, which has no cryptolib. Never shipped as firmware: on a
board cryptolib is C and keeps its state outside the Python heap, so bench/mp32 reports this
module's own heap beside every figure. Neither making a key nor encrypting allocates more
than the object's buffers: every table is made once. Checked against the real cryptolib by
tests/test_mp32.py."""

_SBOX = bytearray(256)
_X2 = bytearray(256)  # multiplication by 2 in GF(2^8)


def _tables():
    for i in range(256):
        _X2[i] = ((i << 1) ^ 0x1B) & 0xFF if i & 0x80 else i << 1
    p = q = 1
    _SBOX[0] = 0x63
    while True:  # walk the field by 3 and its inverse by 3^-1, as in FIPS-197's derivation
        p = p ^ _X2[p]
        q ^= q << 1
        q ^= q << 2
        q ^= q << 4
        q &= 0xFF
        if q & 0x80:
            q ^= 0x09
        x = q ^ ((q << 1) | (q >> 7)) ^ ((q << 2) | (q >> 6)) ^ ((q << 3) | (q >> 5))
        x ^= (q << 4) | (q >> 4)
        _SBOX[p] = (x ^ 0x63) & 0xFF
        if p == 1:
            break


_tables()


class aes:
    def __init__(self, key, mode):
        if mode != 1:
            raise ValueError("the stand-in does ECB only")
        nk = len(key) // 4
        self._rounds = nk + 6
        w = bytearray(16 * (self._rounds + 1))
        w[: len(key)] = key
        rcon = 1
        t = bytearray(4)  # the word being made (tuples would be garbage: see encrypt)
        for i in range(nk, 4 * (self._rounds + 1)):
            for j in range(4):
                t[j] = w[4 * i - 4 + j]
            if i % nk == 0:
                a = t[0]
                t[0] = _SBOX[t[1]] ^ rcon
                t[1] = _SBOX[t[2]]
                t[2] = _SBOX[t[3]]
                t[3] = _SBOX[a]
                rcon = _X2[rcon]
            elif nk > 6 and i % nk == 4:
                for j in range(4):
                    t[j] = _SBOX[t[j]]
            for j in range(4):
                w[4 * i + j] = w[4 * (i - nk) + j] ^ t[j]
        self._w = w
        self._s = bytearray(16)
        self._t = bytearray(16)

    def encrypt(self, inbuf, outbuf):
        s = self._s  # one name each: a tuple of them would be allocated per call
        t = self._t
        w = self._w
        sb = _SBOX
        x2 = _X2
        for i in range(16):
            s[i] = inbuf[i] ^ w[i]
        for r in range(1, self._rounds + 1):
            for i in range(16):  # SubBytes and ShiftRows: column c takes row j from c + j
                t[i] = sb[s[(i + 4 * (i & 3)) & 15]]
            k = 16 * r
            if r == self._rounds:
                for i in range(16):
                    outbuf[i] = t[i] ^ w[k + i]
                return
            for c in range(0, 16, 4):  # MixColumns, then AddRoundKey
                a0 = t[c]
                a1 = t[c + 1]
                a2 = t[c + 2]
                a3 = t[c + 3]
                e = a0 ^ a1 ^ a2 ^ a3
                s[c] = a0 ^ e ^ x2[a0 ^ a1] ^ w[k + c]
                s[c + 1] = a1 ^ e ^ x2[a1 ^ a2] ^ w[k + c + 1]
                s[c + 2] = a2 ^ e ^ x2[a2 ^ a3] ^ w[k + c + 2]
                s[c + 3] = a3 ^ e ^ x2[a3 ^ a0] ^ w[k + c + 3]
