"""Sensor drivers tested under the MicroPython binary against recorded bus transactions.

A FakeI2C (tests/mpy/fakes.py) replays a recording: each entry is what the driver must write,
or what the part answers, and any other access fails the test. Expected values come from the
datasheets' examples and floating-point formulas, not from the drivers' integer code.
"""

import struct

import runner
from fakes import FakeI2C, FakePin, eq, near

from veil.drivers import bh1750, bme280, composite, dht22, pir, reed, scd4x, sht3x
from veil.drivers.sensirion import crc8


def words(*ws):
    """A Sensirion response with the CRCs the datasheets give for these words."""
    known = {0xBEEF: 0x92, 0x01F4: 0x33, 0x6667: 0xA2, 0x5EB9: 0x3C, 0x8006: None}
    out = b""
    for w in ws:
        out += bytes((w >> 8, w & 0xFF, known[w] if known[w] is not None else 0))
    return out


def test_sensirion_crc_datasheet_example():
    eq(crc8(b"\xbe\xef", 0, 2), 0x92)
    eq(crc8(b"\x01\xf4\x66\x67", 2, 2), 0xA2)


def test_sht3x_measures_and_converts():
    bus = FakeI2C([("w", 0x44, b"\x24\x00"), ("r", 0x44, words(0xBEEF, 0x5EB9))])
    d = sht3x.Driver(None, {"bus": bus, "addr": 0x44})
    v = [0, 0]
    eq(d.read(v), 0)
    near(v[0], (-45 + 175 * 0xBEEF / 65535) * 100, 0.5)
    near(v[1], 100 * 0x5EB9 / 65535 * 100, 0.5)
    bus.done()


def test_sht3x_bad_crc_masks_only_that_word():
    resp = bytearray(words(0xBEEF, 0x5EB9))
    resp[2] ^= 1
    bus = FakeI2C([("w", 0x44, b"\x24\x00"), ("r", 0x44, bytes(resp))])
    v = [-1, -1]
    eq(sht3x.Driver(None, {"bus": bus}).read(v), 1)
    eq(v[0], -1)
    near(v[1], 3700, 1)


def test_scd4x_datasheet_example():
    bus = FakeI2C(
        [
            ("w", 0x62, b"\x3f\x86"),
            ("w", 0x62, b"\x21\xb1"),
            ("w", 0x62, b"\xe4\xb8"),
            ("r", 0x62, b"\x80\x06" + bytes((crc8(b"\x80\x06", 0, 2),))),
            ("w", 0x62, b"\xec\x05"),
            ("r", 0x62, words(0x01F4, 0x6667, 0x5EB9)),
            ("w", 0x62, b"\xe4\xb8"),
            ("r", 0x62, b"\x80\x00" + bytes((crc8(b"\x80\x00", 0, 2),))),
        ]
    )
    d = scd4x.Driver(None, {"bus": bus})
    v = [0, 0, 0]
    eq(d.read(v), 0)
    eq(v, [500, 2500, 3700])  # datasheet: 500 ppm, 25 °C, 37 %RH
    v = [0, 0, 0]
    eq(d.read(v), 0)  # no new measurement yet: the last one again
    eq(v, [500, 2500, 3700])
    bus.done()


def test_scd4x_masks_until_its_first_measurement():
    bus = FakeI2C(
        [
            ("w", 0x62, b"\x3f\x86"),
            ("w", 0x62, b"\x21\xb1"),
            ("w", 0x62, b"\xe4\xb8"),
            ("r", 0x62, b"\x80\x00" + bytes((crc8(b"\x80\x00", 0, 2),))),
        ]
    )
    v = [9, 9, 9]
    eq(scd4x.Driver(None, {"bus": bus}).read(v), 7)
    eq(v, [9, 9, 9])


def test_bh1750_datasheet_example():
    bus = FakeI2C(
        [
            ("w", 0x23, b"\x01"),
            ("w", 0x23, b"\x10"),
            ("r", 0x23, b"\x83\x90"),
            ("r", 0x23, b"\x00\x01"),
        ]
    )
    d = bh1750.Driver(None, {"bus": bus})
    v = [0]
    eq(d.read(v), 0)
    eq(v, [28067])  # datasheet: 1000_0011 1001_0000 -> 28067 lx
    d.read(v)
    eq(v, [1])  # 0.83 lx rounds to 1
    bus.done()


# BMP280 datasheet, section 3.12 "calculating pressure and temperature": trimming values and
# raw readings of its worked example (the BME280 uses the same formulas).
T_P = (27504, 26435, -1000, 36477, -10685, 3024, 2855, 140, -7, 15500, -14600, 6000)
ADC_T, ADC_P = 519888, 415148
# Humidity trimming of a real BME280 (no worked example in the datasheet).
H1, H2, H3, H4, H5, H6 = 75, 362, 0, 313, 50, 30
ADC_H = 30000


def float_humidity(t_fine):
    """The datasheet's double-precision humidity formula (section 4.2.3)."""
    h = t_fine - 76800.0
    h = (ADC_H - (H4 * 64.0 + H5 / 16384.0 * h)) * (
        H2 / 65536.0 * (1.0 + H6 / 67108864.0 * h * (1.0 + H3 / 67108864.0 * h))
    )
    h = h * (1.0 - H1 * h / 524288.0)
    return min(max(h, 0.0), 100.0)


def bme280_registers():
    tp = struct.pack("<HhhHhhhhhhhh", *T_P)
    e4, e5, e6 = (H4 >> 4) & 0xFF, ((H5 & 0x0F) << 4) | (H4 & 0x0F), (H5 >> 4) & 0xFF
    h = struct.pack("<hB", H2, H3) + bytes((e4, e5, e6, H6 & 0xFF))
    raw = bytes(
        (
            ADC_P >> 12,
            (ADC_P >> 4) & 0xFF,
            (ADC_P & 0xF) << 4,
            ADC_T >> 12,
            (ADC_T >> 4) & 0xFF,
            (ADC_T & 0xF) << 4,
            ADC_H >> 8,
            ADC_H & 0xFF,
        )
    )
    return tp, h, raw


def test_bme280_datasheet_example():
    tp, h, raw = bme280_registers()
    bus = FakeI2C(
        [
            ("rm", 0x76, 0xD0, b"\x60"),
            ("rm", 0x76, 0x88, tp),
            ("rm", 0x76, 0xA1, bytes((H1,))),
            ("rm", 0x76, 0xE1, h),
            ("wm", 0x76, 0xF2, b"\x01"),
            ("wm", 0x76, 0xF4, b"\x25"),
            ("rm", 0x76, 0xF7, raw),
        ]
    )
    v = [0, 0, 0]
    eq(bme280.Driver(None, {"bus": bus}).read(v), 0)
    eq(v[0], 2508)  # datasheet: 25.08 °C (t_fine 128422)
    eq(v[2], 100653)  # datasheet: 100653.27 Pa, published in Pa (0.01 hPa)
    near(v[1], float_humidity(128422) * 100, 3)
    bus.done()


def test_bme280_refuses_another_chip():
    bus = FakeI2C([("rm", 0x76, 0xD0, b"\x58")])  # a BMP280
    try:
        bme280.Driver(None, {"bus": bus}).read([0, 0, 0])
    except OSError:
        return
    raise AssertionError("accepted a BMP280")


def test_dht22_datasheet_examples():
    frames = [
        bytes((0x02, 0x8C, 0x01, 0x5F, 0xEE)),  # AM2302 datasheet: 65.2 %RH, 35.1 °C
        bytes((0x02, 0x8C, 0x80, 0x65, 0x73)),  # -10.1 °C
        bytes((0x02, 0x8C, 0x01, 0x5F, 0xEF)),  # bad checksum
    ]

    def readinto(pin, buf):
        buf[:] = frames.pop(0)

    d = dht22.Driver(None, {"pin": FakePin(), "readinto": readinto})
    v = [0, 0]
    eq((d.read(v), v), (0, [351, 652]))
    eq((d.read(v), v), (0, [-101, 652]))
    eq((d.read(v), v), (3, [-101, 652]))


def test_pir_latches_motion_between_ticks():
    p = FakePin(0)
    d = pir.Driver(None, {"pin": p})
    v = [9]
    eq((d.read(v), v), (0, [0]))
    p.handler(p)  # a short pulse, over before the tick
    eq(d.read(v), 0)
    eq(v, [1])
    d.read(v)
    eq(v, [0])
    p.level = 1
    d.read(v)
    eq(v, [1])


def test_reed_reads_the_door():
    p = FakePin(1)
    d = reed.Driver(None, {"pin": p})
    v = [0]
    d.read(v)
    eq(v, [1])
    p.level = 0
    d.read(v)
    eq(v, [0])


def test_composite_maps_channels_and_masks_only_the_failing_sensor():
    bus = FakeI2C(
        [
            ("w", 0x44, b"\x24\x00"),
            ("r", 0x44, words(0xBEEF, 0x5EB9)),
            ("w", 0x23, b"\x01"),
            ("w", 0x23, None),  # the BH1750 stops answering
            ("w", 0x44, b"\x24\x00"),
            ("r", 0x44, None),
            ("w", 0x23, b"\x01"),
            ("w", 0x23, b"\x10"),
            ("r", 0x23, b"\x83\x90"),
        ]
    )
    door = FakePin(1)
    # device channels: light, door, hum (SHT3x temperature read but not published)
    d = composite.Driver(
        [("light", 0, 0, 54613), ("door", 0, 0, 1), ("hum", 2, 0, 10000)],
        {
            "bus": bus,
            "sensors": [
                {"type": "sht3x", "addr": 0x44, "map": [-1, 2]},
                {"type": "bh1750", "addr": 0x23, "map": [0]},
                {"type": "reed", "pin": door, "map": [1]},
            ],
        },
    )
    v = [5, 5, 5]
    eq(d.read(v), 1)  # bit 0: light
    eq(v[0], 5)
    eq(v[1:], [1, round(100 * 0x5EB9 / 65535 * 100)])
    if d.day * 86400 + d.sec < 1600000000 or not 0 <= d.sec < 86400:
        raise AssertionError("(%r, %r) is not (day, second) of Unix time" % (d.day, d.sec))
    door.level = 0
    eq(d.read(v), 4)  # bit 2: hum (the SHT3x failed); the BH1750 is back
    eq(v[:2], [28067, 0])
    bus.done()


def test_every_driver_names_its_channels():
    for m in (sht3x, scd4x, bme280, bh1750, dht22, pir, reed):
        print("channels", m.__name__.split(".")[-1], ",".join(m.CHANNELS))


runner.run(globals())
