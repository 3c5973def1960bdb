"""The firmware's heap, step by step, in the current folder (a provisioned board's filesystem);
runs under any MicroPython port. With bench/mp32/run.mjs on the 32-bit port, the collector
runs before each call of step(), only then; elsewhere main() runs the steps with a full
collection before each.

    heap_steps.py TICKS

The steps are boot's (import the firmware, read config, key, profile, start the state, build
the device, drop what boot no longer needs), then TICKS ticks. Each step's high-water mark is
the heap at its start (live) plus everything it allocates; the peak is the highest of them.
Prints `name bytes` lines: code (the firmware imported), profile (the parsed profile),
device (the heap once booted, code included), peak, garbage (per tick, average), stand_in
(what the cryptolib stand-in holds, 0 where cryptolib is built in; the other figures leave it
out).
"""

import gc
import sys

ticks = int(sys.argv[1])
out = {"peak": 0, "garbage": 0}
state = {}
_at = 0


def _boot():
    import cryptolib  # noqa: F401  (first, so that `stand_in` is its own heap)

    yield "stand_in"
    from veil import app, config
    from veil.state import State

    yield "code"
    state["cfg"] = config.load()
    yield None
    state["keys"] = config.subkeys()
    yield None
    state["profile"] = config.profile()
    yield "profile"
    state["state"] = State(reserve=state["cfg"].get("reserve", 64))
    yield None
    with config.tables() as tables:
        node = app.Node(state["cfg"], state["keys"], state["state"], state["profile"], tables)
    yield None
    state["profile"].clear()  # as veil/app.py does
    state["keys"] = state["profile"] = None
    yield None
    node.open()
    yield "device"
    for _ in range(ticks):
        node.read()
        node.publish()
        yield "tick"
    node.close()


_steps = _boot()
_named = None  # the step just run, measured at the start of the next (after a collection)
_before = 0  # the live heap before it
_base = 0  # the live heap before the stand-in and the firmware


def step():
    """One step: note the heap it starts from and its high-water mark; False after the last."""
    global _named, _before, _base
    live = gc.mem_alloc()
    if _named in ("stand_in", "profile"):
        out[_named] = live - _before
    elif _named in ("code", "device"):
        out[_named] = live - _base - out["stand_in"]
    try:
        name = next(_steps)
    except StopIteration:
        for k in ("stand_in", "code", "profile", "device", "peak"):
            print(k, out.get(k, 0))
        print("garbage", out["garbage"] // max(1, ticks))
        return False
    if name == "stand_in":
        _base = live
    high = gc.mem_alloc()
    out["peak"] = max(out["peak"], high - _base - out.get("stand_in", 0))
    if name == "tick":
        out["garbage"] += high - live
    _named, _before = name, live
    return True


def main():
    while True:
        gc.collect()
        if not step():
            return


if sys.implementation._machine != "JS with Emscripten":
    main()
