"""BME280 temperature, humidity and pressure over I2C in forced mode (oversampling x1).

Compensation is the datasheet's integer code (BME280 datasheet section 4.2.3; temperature and
pressure as in the BMP280's): 32-bit for temperature and humidity, 64-bit for pressure (the
32-bit pressure formula is off by 3 Pa on the datasheet's example). On an ESP32 products beyond
30 bits become short-lived big ints: a BME280 costs some garbage per tick.
"""

import struct
import time

from . import hw

CHANNELS = ("temp", "hum", "press")  # 0.01 °C, 0.01 %RH, 0.01 hPa (= Pa)
CHIP_ID = 0x60
_FORCED = b"\x25"  # ctrl_meas: temperature x1, pressure x1, forced mode
_HUM_X1 = b"\x01"  # ctrl_hum: humidity x1


def calibration(tp, h1, h):
    """The 18 trimming values from registers 0x88..0x9F (24 bytes), 0xA1 and 0xE1..0xE7."""
    c = list(struct.unpack("<HhhHhhhhhhhh", tp))
    e4, e5, e6 = h[3], h[4], h[5]
    e4 = e4 - 256 if e4 > 127 else e4
    e6 = e6 - 256 if e6 > 127 else e6
    c.append(h1)
    c.append(struct.unpack("<h", h[0:2])[0])
    c.append(h[2])
    c.append((e4 << 4) | (e5 & 0x0F))
    c.append((e6 << 4) | (e5 >> 4))
    c.append(h[6] - 256 if h[6] > 127 else h[6])
    return c


def compensate(c, adc_t, adc_p, adc_h):
    """(0.01 °C, Pa, 0.01 %RH) from raw readings and the calibration list `c`."""
    t1, t2, t3, p1, p2, p3, p4, p5, p6, p7, p8, p9, h1, h2, h3, h4, h5, h6 = c
    v1 = (((adc_t >> 3) - (t1 << 1)) * t2) >> 11
    v2 = (((((adc_t >> 4) - t1) * ((adc_t >> 4) - t1)) >> 12) * t3) >> 14
    t_fine = v1 + v2
    temp = (t_fine * 5 + 128) >> 8

    v1 = t_fine - 128000
    v2 = v1 * v1 * p6 + ((v1 * p5) << 17) + (p4 << 35)
    v1 = (((v1 * v1 * p3) >> 8) + ((v1 * p2) << 12) + (1 << 47)) * p1 >> 33
    if v1 == 0:
        press = 0
    else:
        p = (((1048576 - adc_p) << 31) - v2) * 3125
        p = p // v1 if p >= 0 else -(-p // v1)  # C division truncates towards zero
        v1 = (p9 * (p >> 13) * (p >> 13)) >> 25
        v2 = (p8 * p) >> 19
        press = ((((p + v1 + v2) >> 8) + (p7 << 4)) + 128) >> 8  # Q24.8 Pa -> Pa

    v = t_fine - 76800
    v = ((((adc_h << 14) - (h4 << 20) - (h5 * v)) + 16384) >> 15) * (
        (((((((v * h6) >> 10) * (((v * h3) >> 11) + 32768)) >> 10) + 2097152) * h2) + 8192) >> 14
    )
    v = v - (((((v >> 15) * (v >> 15)) >> 7) * h1) >> 4)
    v = 0 if v < 0 else 419430400 if v > 419430400 else v
    hum = ((v >> 12) * 100 + 512) >> 10  # Q22.10 %RH -> 0.01 %RH
    return temp, press, hum


class Driver:
    def __init__(self, channels, options):
        self._bus = hw.bus(options)
        self._addr = options.get("addr", 0x76)
        self._raw = bytearray(8)
        self._cal = None

    def _start(self):
        bus, addr = self._bus, self._addr
        if bus.readfrom_mem(addr, 0xD0, 1)[0] != CHIP_ID:
            raise OSError(19)  # not a BME280 (a BMP280 has no humidity)
        tp = bus.readfrom_mem(addr, 0x88, 24)
        h1 = bus.readfrom_mem(addr, 0xA1, 1)[0]
        h = bus.readfrom_mem(addr, 0xE1, 7)
        self._cal = calibration(tp, h1, h)

    def read(self, values):
        if self._cal is None:
            self._start()
        bus, addr, r = self._bus, self._addr, self._raw
        bus.writeto_mem(addr, 0xF2, _HUM_X1)
        bus.writeto_mem(addr, 0xF4, _FORCED)
        time.sleep_ms(10)
        bus.readfrom_mem_into(addr, 0xF7, r)
        adc_p = (r[0] << 12) | (r[1] << 4) | (r[2] >> 4)
        adc_t = (r[3] << 12) | (r[4] << 4) | (r[5] >> 4)
        adc_h = (r[6] << 8) | r[7]
        if adc_t == 0x80000 or adc_p == 0x80000 or adc_h == 0x8000:
            return 7  # the part's "skipped" values: no measurement was made
        values[0], values[2], values[1] = compensate(self._cal, adc_t, adc_p, adc_h)
        return 0
