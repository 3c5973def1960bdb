"""Stand-ins for a board's I2C bus and pins, for unit tests of the drivers' pure logic."""


class FakeI2C:
    """Replays ("w", addr, bytes) writes, ("r", addr, bytes) reads, ("rm"/"wm", addr, reg,
    bytes) register accesses; bytes None is a part that does not answer (OSError 19)."""

    def __init__(self, script):
        self.script = list(script)

    def _next(self, kind, addr, reg=None):
        if not self.script:
            raise AssertionError("unexpected %s at %#x" % (kind, addr))
        step = self.script.pop(0)
        want = (kind, addr) if reg is None else (kind, addr, reg)
        if tuple(step[: len(want)]) != want:
            raise AssertionError("got %r, recording has %r" % (want, step))
        if step[-1] is None:
            raise OSError(19)
        return step[-1]

    def writeto(self, addr, buf):
        eq(bytes(buf), self._next("w", addr))

    def readfrom_into(self, addr, buf):
        data = self._next("r", addr)
        eq(len(buf), len(data))
        buf[:] = data

    def readfrom_mem(self, addr, reg, n):
        data = self._next("rm", addr, reg)
        eq(n, len(data))
        return data

    def readfrom_mem_into(self, addr, reg, buf):
        buf[:] = self.readfrom_mem(addr, reg, len(buf))

    def writeto_mem(self, addr, reg, buf):
        eq(bytes(buf), self._next("wm", addr, reg))

    def done(self):
        eq(self.script, [])


class FakePin:
    IRQ_RISING = 1

    def __init__(self, level=0):
        self.level = level
        self.handler = None

    def value(self):
        return self.level

    def irq(self, handler=None, trigger=0):
        eq(trigger, self.IRQ_RISING)
        self.handler = handler


def eq(got, want):
    if got != want:
        raise AssertionError("%r != %r" % (got, want))


def near(got, want, tol):
    if abs(got - want) > tol:
        raise AssertionError("%r is not within %r of %r" % (got, tol, want))


class RecordedBus:
    """A bus whose parts answer every read with a recorded response, chosen by the part's
    address and the last command written to it (for runs of many ticks)."""

    def __init__(self, answers):
        self.answers = answers
        self.last = {}

    def writeto(self, addr, buf):
        self.last[addr] = bytes(buf)

    def readfrom_into(self, addr, buf):
        buf[:] = self.answers[(addr, self.last.get(addr))]
