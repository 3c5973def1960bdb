"""The board's buses and pins, made from config values (or passed in ready-made by tests).

`machine` is imported only here and only when a real bus or pin is needed, so the drivers'
parsing and conversion code also runs on the MicroPython Unix port.
"""


def i2c(cfg):
    """machine.I2C from {"id", "sda", "scl", "freq"}."""
    from machine import I2C, Pin

    return I2C(cfg["id"], scl=Pin(cfg["scl"]), sda=Pin(cfg["sda"]), freq=cfg["freq"])


def bus(options):
    """The sensor's I2C bus: options["bus"], set by the composite driver (or a test)."""
    return options["bus"]


def pin(options, pull_default="none"):
    """An input pin from options["pin"] (a GPIO number, or a pin-like object from a test)."""
    p = options["pin"]
    if not isinstance(p, int):
        return p
    from machine import Pin

    pull = options.get("pull", pull_default)
    mode = Pin.PULL_UP if pull == "up" else Pin.PULL_DOWN if pull == "down" else None
    return Pin(p, Pin.IN, mode)
