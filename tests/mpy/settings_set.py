"""The settings set under a power cut at every step of an update (run under MicroPython).

The host's update, step by step as mpremote performs it on the board: each new file written
as NAME.new (a cut can tear it), the commit record written as .tmp and renamed, then apply().
After a cut anywhere, recover() at boot must leave exactly the old set or exactly the new one.
"""

import os

import runner

from veil import settings

OLD = {"config.json": b'{"device": "old"}', "key.bin": b"o" * 32}
NEW = {"config.json": b'{"device": "new", "k": 4}', "key.bin": b"n" * 32, "extra.json": b"{}"}


def write(name, data):
    with open(name, "wb") as f:
        f.write(data)


def read(name):
    try:
        with open(name, "rb") as f:
            return f.read()
    except OSError:
        return None


def update_steps():
    """The update as a list of steps; each is (what, action)."""
    steps = []
    for name, data in NEW.items():
        steps.append(("half of " + name, lambda n=name, d=data: write(n + ".new", d[:5])))
        steps.append(("all of " + name, lambda n=name, d=data: write(n + ".new", d)))
    record = "".join(n + "\n" for n in NEW)
    steps.append(("commit.tmp", lambda: write(settings.COMMIT + ".tmp", record.encode())))
    steps.append(("commit", lambda: os.rename(settings.COMMIT + ".tmp", settings.COMMIT)))
    steps.append(("apply", settings.apply))
    return steps


def visible():
    return {n: read(n) for n in ("config.json", "key.bin", "extra.json")}


def test_a_cut_anywhere_leaves_the_old_or_the_new_set():
    old = dict(OLD, **{"extra.json": None})
    steps = update_steps()
    seen = set()
    for cut in range(len(steps) + 1):
        for n in os.listdir():
            os.remove(n)
        for name, data in OLD.items():
            write(name, data)
        for _what, action in steps[:cut]:
            action()
        settings.recover()
        got = visible()
        if got == old:
            seen.add("old")
        elif got == NEW:
            seen.add("new")
        else:
            raise AssertionError("cut after %d steps left a mix: %r" % (cut, got))
        left = [n for n in os.listdir() if n.endswith(".new") or n.startswith(settings.COMMIT)]
        if left:
            raise AssertionError("cut after %d steps left %r" % (cut, left))
    if seen != {"old", "new"}:
        raise AssertionError("only saw %r" % seen)


def test_a_cut_inside_apply_is_finished_at_boot():
    for name, data in OLD.items():
        write(name, data)
    for name, data in NEW.items():
        write(name + ".new", data)
    write(settings.COMMIT, b"config.json\nkey.bin\nextra.json\n")
    os.rename("config.json.new", "config.json")  # apply() got this far
    if settings.recover() != "finished a committed update":
        raise AssertionError("recover() did not report the update")
    if visible() != NEW:
        raise AssertionError("not the new set: %r" % visible())
    if settings.recover() != "":
        raise AssertionError("a second recover() did something")


runner.run(globals())
