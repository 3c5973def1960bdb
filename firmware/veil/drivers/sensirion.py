"""Sensirion I2C framing shared by the SHT3x and SCD4x: 16-bit words, each followed by a CRC-8
(polynomial 0x31, init 0xFF; the datasheets' example: CRC(0xBEEF) = 0x92), and the
temperature and humidity conversions of both parts as integers (no floats, no big ints)."""


def crc8(buf, start, n):
    crc = 0xFF
    for i in range(start, start + n):
        crc ^= buf[i]
        for _ in range(8):
            crc = ((crc << 1) ^ 0x31) & 0xFF if crc & 0x80 else (crc << 1) & 0xFF
    return crc


def word(buf, i):
    """Word i of a response (3 bytes per word), or -1 when its CRC does not match."""
    p = 3 * i
    if crc8(buf, p, 2) != buf[p + 2]:
        return -1
    return (buf[p] << 8) | buf[p + 1]


def scaled(raw, span, div):
    """round(span * 100 * raw / div) without products beyond 30 bits (ESP32 small ints)."""
    q, r = divmod(span * raw, div)
    return q * 100 + (r * 100 + div // 2) // div


def centi_celsius(raw, div):
    """T = -45 + 175 * raw / div, in 0.01 °C."""
    return scaled(raw, 175, div) - 4500


def centi_percent(raw, div):
    """RH = 100 * raw / div, in 0.01 %RH."""
    return scaled(raw, 100, div)
