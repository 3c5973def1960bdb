"""app.main() in the current folder (a provisioned board's filesystem) on a filesystem that
counts flash writes: `flash_count.py`. A write is what makes the filesystem commit to flash: a
flush or close of a file written since the last one, a rename, a removal. Prints
`flash writes N bytes B ticks T` (B: bytes handed to the filesystem to write)."""

import os
import re

from veil import app
from veil.drivers import replay  # noqa: F401  (imported before the firmware's folder is hidden)
from veil.sinks import mqtt, spool  # noqa: F401


class File:
    def __init__(self, f, flash):
        self._f = f
        self._flash = flash
        self._dirty = False

    def write(self, b):
        self._dirty = True
        self._flash.bytes += len(b)
        return self._f.write(b)

    def flush(self):
        if self._dirty:
            self._flash.writes += 1
            self._dirty = False
        return self._f.flush()

    def close(self):
        self.flush()
        return self._f.close()

    def read(self, *n):
        return self._f.read(*n)

    def readinto(self, *b):
        return self._f.readinto(*b)

    def readline(self):
        return self._f.readline()

    def seek(self, *a):
        return self._f.seek(*a)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class Flash:
    def __init__(self, root):
        self.fs = os.VfsPosix(root)
        self.writes = 0
        self.bytes = 0

    def open(self, path, mode):
        f = self.fs.open(path, mode)
        return File(f, self) if "w" in mode or "a" in mode or "+" in mode else f

    def rename(self, a, b):
        self.writes += 1
        return self.fs.rename(a, b)

    def remove(self, path):
        self.writes += 1
        return self.fs.remove(path)

    def __getattr__(self, name):
        return getattr(self.fs, name)


flash = Flash(os.getcwd())
os.umount("/")
os.mount(flash, "/")
os.chdir("/")
log = []
app.log = lambda *parts: log.append(" ".join(str(p) for p in parts))
app.main()
ticks = int(re.search(r"stopped after (\d+) ticks", log[-1]).group(1))
print("\n".join(log))
print("flash writes", flash.writes, "bytes", flash.bytes, "ticks", ticks)
