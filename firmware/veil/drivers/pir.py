"""PIR motion sensor on a GPIO: 1 when motion was seen since the last tick (a rising edge
latched by an interrupt) or is seen now, else 0."""

from . import hw

CHANNELS = ("motion",)


class Driver:
    def __init__(self, channels, options):
        self._pin = hw.pin(options, "down")
        self._seen = 0
        self._pin.irq(handler=self._edge, trigger=self._pin.IRQ_RISING)

    def _edge(self, pin):
        self._seen = 1

    def read(self, values):
        values[0] = self._seen | self._pin.value()
        self._seen = 0
        return 0
