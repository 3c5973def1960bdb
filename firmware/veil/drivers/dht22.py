"""DHT22 (AM2302) temperature and humidity on one GPIO: 5 bytes, the last one the low byte of
the sum of the first four. The bit timing is the port's `dht_readinto` (esp module; tests
pass their own as options["readinto"])."""

from . import hw

CHANNELS = ("temp", "hum")  # 0.1 °C, 0.1 %RH


def _readinto():
    from esp import dht_readinto

    return dht_readinto


class Driver:
    def __init__(self, channels, options):
        self._pin = hw.pin(options, "up")
        self._readinto = options.get("readinto") or _readinto()
        self._buf = bytearray(5)

    def read(self, values):
        b = self._buf
        self._readinto(self._pin, b)
        if (b[0] + b[1] + b[2] + b[3]) & 0xFF != b[4]:
            return 3
        t = ((b[2] & 0x7F) << 8) | b[3]
        values[0] = -t if b[2] & 0x80 else t
        values[1] = (b[0] << 8) | b[1]
        return 0
