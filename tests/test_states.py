"""Occupancy states inferred from a home's readings when it has no labels
(veil.privacy.profile.infer_states): whose dark nights are sleep and whose are an empty room."""

import numpy as np

from veil.privacy.profile import ASLEEP, AWAKE, AWAY, ChannelData, household_day, infer_states

DAY = 86400


def _motion(days: int, active_hours, tz: int = 0) -> tuple[np.ndarray, list[ChannelData]]:
    """Minute readings of a motion sensor that fires on weekdays in the local `active_hours`."""
    t = np.arange(days * 1440) * 60 + 4 * 86400 * 7  # 1970-01-29 was a Thursday
    local = t + tz
    hour = local % DAY // 3600
    weekday = (local // DAY + 3) % 7 < 5
    on = weekday & np.isin(hour, list(active_hours))
    return t, [ChannelData("pir", 0, [int(x) for x in on], "motion")]


def test_an_office_dark_all_night_is_empty_not_asleep():
    t, ch = _motion(14, range(9, 18))
    st = infer_states(t, ch)
    later = t >= t[0] + DAY  # the history opens at midnight, its first night cut short
    assert not (st[later] == ASLEEP).any()
    assert (st[later & (t % DAY // 3600 == 3)] == AWAY).all()
    day = household_day(t)
    weekend = [d for d in np.unique(day) if (d + 3) % 7 >= 5]
    assert weekend and all((st[day == d] == AWAY).all() for d in weekend)


def test_a_home_quiet_between_evening_and_morning_is_asleep():
    t, ch = _motion(14, [*range(7, 9), *range(18, 23)])
    st = infer_states(t, ch)
    weekday = (t // DAY + 3) % 7
    between = (weekday >= 1) & (weekday <= 4)  # nights after a weekday's evening
    assert (st[between & (t % DAY // 3600 == 3)] == ASLEEP).all()
    assert (st[(weekday == 0) & (t % DAY // 3600 == 3)] == AWAY).all()  # after a weekend out
    assert (st[between & (t % DAY // 3600 == 19)] == AWAKE).all()


def test_sleep_is_told_in_the_homes_local_time():
    tz = 8 * 3600
    t, ch = _motion(14, [*range(7, 9), *range(18, 23)], tz=tz)
    local_hour = (t + tz) % DAY // 3600
    weekday = ((t + tz) // DAY + 3) % 7
    between = (weekday >= 1) & (weekday <= 4)
    st = infer_states(t, ch, tz)
    assert (st[between & (local_hour == 3)] == ASLEEP).all()
    assert not (st[local_hour == 12] == ASLEEP).any()


def test_contacts_tell_a_flat_without_other_sensors_when_someone_is_in():
    """A cupboard used in the morning and the evening on weekdays: someone is in while it
    moves, out in the working day, asleep between an evening and the next morning."""
    t = np.arange(14 * 1440) * 60 + 4 * 86400 * 7  # two weeks from a Thursday, a minute apart
    minute = t % DAY // 60
    weekday = (t // DAY + 3) % 7
    used = (weekday < 5) & np.isin(minute % 720, [7 * 60, 7 * 60 + 20, 7 * 60 + 40])
    opened = [int(x) for x in np.cumsum(used) % 2]  # each use flips the contact
    st = infer_states(t, [ChannelData("cups_cupboard", 0, opened, "door")])
    between = (weekday >= 1) & (weekday <= 4)
    hour = minute // 60
    assert (st[between & (minute == 7 * 60 + 5)] == AWAKE).all()
    assert (st[between & (hour == 12)] == AWAY).all()
    assert (st[between & (hour == 3)] == ASLEEP).all()
