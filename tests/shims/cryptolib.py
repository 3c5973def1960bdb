"""MicroPython's cryptolib on CPython, for running firmware code there (decoy vectors): AES in
ECB mode only, the one mode the firmware uses."""

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes


class aes:  # MicroPython's name
    def __init__(self, key, mode):
        if mode != 1:
            raise ValueError("only ECB (mode 1) is stood in for")
        self._enc = Cipher(algorithms.AES(bytes(key)), modes.ECB()).encryptor()

    def encrypt(self, data, out):
        out[:] = self._enc.update(bytes(data))
