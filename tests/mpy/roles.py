"""Unit tests of firmware/veil/roles.py under the MicroPython binary (tests/test_redeal.py):
the real track of v1 and v2, the re-deal at 04:00 local time, and no allocation per tick."""

import micropython
import runner

from veil import proto, roles

KEY = bytes(range(32))
PLACE = [2, 3, 0, 1]
TZ = 3600
DAY0 = 19676  # a household day; its first second at UTC+1 is 03:00 UTC
START = DAY0 * 86400 + 14400 - TZ


def at(ts):
    """(day, sec) of Unix time ts, as veil.clock gives a reading's time."""
    return divmod(ts, 86400)


def eq(got, want):
    if got != want:
        raise AssertionError("%r != %r" % (got, want))


def test_v1_keeps_one_real_track():
    r = roles.Roles(KEY, 7, PLACE, 1, TZ)
    want = PLACE.index(proto.real_household(KEY, 7, 4))
    for ts in (0, START, START + 86400 * 30):
        eq(r.track(*at(ts)), want)
    eq(r.until_redeal(*at(START)), -1)


def test_v2_redeals_at_the_start_of_each_household_day():
    r = roles.Roles(KEY, 7, PLACE, 2, TZ)
    seen = set()
    for day in range(DAY0, DAY0 + 8):
        first = START + (day - DAY0) * 86400
        want = PLACE.index(proto.real_household(KEY, 7, 4, day))
        eq(roles.day_of(first, TZ), day)
        eq(roles.day_of(first - 1, TZ), day - 1)
        eq(r.track(*at(first)), want)
        eq(r.until_redeal(*at(first + 60)), 86400 - 60)
        eq(r.track(*at(first + 86399)), want)
        seen.add(want)
    if len(seen) < 2:
        raise AssertionError("eight days, one real track")


def test_v2_goes_back_in_time_too():
    r = roles.Roles(KEY, 0, PLACE, 2, 0)
    a = r.track(*at(START + 86400 * 3))
    b = r.track(*at(START))
    eq(a, PLACE.index(proto.real_household(KEY, 0, 4, roles.day_of(START + 86400 * 3, 0))))
    eq(b, PLACE.index(proto.real_household(KEY, 0, 4, roles.day_of(START, 0))))


def test_a_tick_within_the_day_allocates_nothing():
    r = roles.Roles(KEY, 7, PLACE, 2, TZ)
    times = [at(START + 30 * i) for i in range(2000)]  # made beforehand
    want = r.track(*times[0])
    got = 0
    micropython.heap_lock()
    try:
        for day, sec in times:
            got += r.track(day, sec) == want
    finally:
        micropython.heap_unlock()
    eq(got, len(times))


runner.run(globals())
