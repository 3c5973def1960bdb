"""A fake ESP32 ROM bootloader on loopback, so that the real esptool runs against it.

It speaks the serial protocol of Espressif's ROM loader (SLIP frames carrying little-endian
command packets, documented with esptool) over TCP; esptool reaches it with
`--port socket://127.0.0.1:PORT`. It answers what esptool needs to detect the chip, read the
MAC, load the flasher stub (it pretends to run it and greets with OHAI), erase, write
compressed data and check the MD5. Flash contents are kept in a bytearray for the tests.
"""

from __future__ import annotations

import hashlib
import socket
import struct
import threading
import zlib

FLASH_BYTES = 16 * 1024 * 1024
MAGIC_REG = 0x40001000
CHIPS = {  # esptool chip name -> how the ROM tells it: magic register value or chip id
    "esp32": {"magic": 0x00F01D83},
    "esp32s3": {"chip_id": 9},
    "esp32c3": {"chip_id": 5},
}
SYNC, READ_REG, SECURITY = 0x08, 0x0A, 0x14
MEM_END, ERASE_FLASH, MD5 = 0x06, 0xD0, 0x13
FLASH_BEGIN, FLASH_DATA, DEFL_BEGIN, DEFL_DATA = 0x02, 0x03, 0x10, 0x11


def slip(data: bytes) -> bytes:
    return b"\xc0" + data.replace(b"\xdb", b"\xdb\xdd").replace(b"\xc0", b"\xdb\xdc") + b"\xc0"


def unslip(frame: bytes) -> bytes:
    return frame.replace(b"\xdb\xdc", b"\xc0").replace(b"\xdb\xdd", b"\xdb")


class FakeRom:
    """Context manager: `url` is the esptool port; `flash`, `erased` and `log` show what
    esptool did."""

    def __init__(self, chip: str):
        self.chip = CHIPS[chip]
        self.flash = bytearray(b"\x5a" * FLASH_BYTES)  # old contents, until erased
        self.erased = False
        self.log: list[int] = []  # opcodes received
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(4)
        self.url = f"socket://127.0.0.1:{self._sock.getsockname()[1]}"
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._sock.shutdown(socket.SHUT_RDWR)  # wakes the accept() of the serving thread
        self._sock.close()
        self._thread.join(5)

    def _serve(self):
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            with conn:
                _Session(self, conn).run()


class _Session:
    """One esptool connection: the ROM until the stub is 'run', then the stub."""

    def __init__(self, rom: FakeRom, conn: socket.socket):
        self.rom, self.conn = rom, conn
        self.stub = False
        self.inflate = None
        self.offset = 0

    def run(self):
        buf = b""
        while True:
            try:
                data = self.conn.recv(65536)
            except OSError:
                return
            if not data:
                return
            buf += data
            while True:
                start = buf.find(b"\xc0")
                end = buf.find(b"\xc0", start + 1) if start >= 0 else -1
                if end < 0:
                    break
                frame, buf = unslip(buf[start + 1 : end]), buf[end:]
                if len(frame) >= 8 and frame[0] == 0:
                    self.handle(frame)

    def reply(self, op: int, val: int = 0, data: bytes = b"", status: int = 0, error: int = 0):
        tail = bytes((status, error)) if self.stub else bytes((status, error, 0, 0))
        body = data + tail
        self.conn.sendall(slip(struct.pack("<BBHI", 1, op, len(body), val) + body))

    def handle(self, frame: bytes):
        op, size = frame[1], struct.unpack_from("<H", frame, 2)[0]
        data = frame[8 : 8 + size]
        rom = self.rom
        rom.log.append(op)
        if op == SYNC:
            for _ in range(8):
                self.reply(op, 0 if self.stub else 0x20120707)
        elif op == READ_REG:
            (addr,) = struct.unpack("<I", data[:4])
            self.reply(op, rom.chip.get("magic", 0) if addr == MAGIC_REG else 0)
        elif op == SECURITY:
            if "chip_id" not in rom.chip:
                self.reply(op, status=1, error=5)  # the ESP32 ROM does not know it
            else:
                info = struct.pack(
                    "<IBBBBBBBBII", 0, 0, 0, 0, 0, 0, 0, 0, 0, rom.chip["chip_id"], 0
                )
                self.reply(op, data=info)
        elif op == MEM_END:
            self.reply(op)
            self.stub = True
            self.conn.sendall(slip(b"OHAI"))
        elif op == ERASE_FLASH:
            rom.flash[:] = b"\xff" * FLASH_BYTES
            rom.erased = True
            self.reply(op)
        elif op in (FLASH_BEGIN, DEFL_BEGIN):
            self.offset = struct.unpack_from("<I", data, 12)[0]
            self.inflate = zlib.decompressobj() if op == DEFL_BEGIN else None
            self.reply(op)
        elif op in (FLASH_DATA, DEFL_DATA):
            chunk = data[16:]
            if self.inflate:
                chunk = self.inflate.decompress(chunk)
            rom.flash[self.offset : self.offset + len(chunk)] = chunk
            self.offset += len(chunk)
            self.reply(op)
        elif op == MD5:
            addr, n = struct.unpack_from("<II", data)
            digest = hashlib.md5(rom.flash[addr : addr + n]).digest()
            self.reply(op, data=digest if self.stub else digest.hex().encode())
        else:  # attach, parameters, registers, memory writes, baud rate: all accepted
            self.reply(op)
