"""Reed door switch from a GPIO to ground, with the pull-up on: 1 when the door is open (the
magnet away, the switch open), 0 when it is closed."""

from . import hw

CHANNELS = ("door",)


class Driver:
    def __init__(self, channels, options):
        self._pin = hw.pin(options, "up")

    def read(self, values):
        values[0] = self._pin.value()
        return 0
