"""The home's rules for its devices (veil.owner.devices): they share k and the epoch
(`household`), and `define_device`, which sim and provision both call, applies every rule."""

from __future__ import annotations

import pytest

from veil.errors import VeilError
from veil.owner.devices import define_device, household
from veil.privacy.profile import default_profile
from veil.protocol import Channel, DeviceSpec

CH = (Channel("t", 2, 0, 5000),)
TEMP = (Channel("temp", 2, 0, 5000),)


def test_first_device_takes_the_defaults_or_what_it_is_given(home):
    assert household(home, "a") == (4, 0, 2, 0)
    assert household(home, "a", k=8, epoch=3, tz=3600) == (8, 3, 2, 3600)


def test_a_device_keeps_its_own_values_when_provisioned_again(home):
    home.save_device(DeviceSpec("a", 6, 2, CH, tz=-18000))
    assert household(home, "a") == (6, 2, 1, -18000)  # a v1 device stays v1


def test_later_devices_take_the_homes_values_and_refuse_others(home):
    home.save_device(DeviceSpec("a", 6, 2, CH))
    home.save_device(DeviceSpec("b", 6, 2, CH))
    assert household(home, "c") == (6, 2, 1, 0)
    assert household(home, "c", k=6, epoch=2, tz=0) == (6, 2, 1, 0)
    for k, epoch, tz in ((4, None, None), (None, 0, None), (8, 2, None), (None, None, 3600)):
        with pytest.raises(VeilError, match="uses k=6, epoch 2, protocol v1 and tz 0 for a, b"):
            household(home, "c", k=k, epoch=epoch, tz=tz)


def test_a_new_device_is_defined_with_the_homes_k_and_epoch_and_nothing_is_saved(home):
    home.save_device(DeviceSpec("a", 6, 2, TEMP))
    d = define_device(home, "b", TEMP)
    assert (d.spec.k, d.spec.epoch) == (6, 2)
    assert set(home.devices()) == {"a"}
    with pytest.raises(VeilError, match="uses k=6, epoch 2, protocol v1 and tz 0 for a"):
        define_device(home, "b", TEMP, k=8, epoch=3)


def test_a_new_home_speaks_v2_in_its_own_time_zone_and_every_device_shares_it(home):
    a = define_device(home, "a", TEMP, tz=7200)
    assert (a.spec.version, a.spec.tz) == (2, 7200)
    a.save(home)
    assert home.devices()["a"].tz == 7200  # kept in devices.json
    b = define_device(home, "b", TEMP)
    assert (b.spec.version, b.spec.tz) == (2, 7200)
    with pytest.raises(VeilError, match="tz 7200"):
        define_device(home, "b", TEMP, tz=0)
    with pytest.raises(VeilError, match="different spec"):  # old records would not decode
        define_device(home, "a", TEMP, tz=3600)


def test_a_known_device_keeps_its_spec_unless_its_channels_change(home):
    old = DeviceSpec("a", 4, 0, TEMP)
    home.save_device(old)
    wider = (Channel("temp", 2, -500, 9000),)
    assert define_device(home, "a", wider).spec == old  # bounds only: readings become stand-ins
    other = (Channel("temp", 1, 0, 500),)
    with pytest.raises(VeilError, match="already provisioned with a different spec"):
        define_device(home, "a", other)
    assert define_device(home, "a", other, replace=True).spec.channels == other


def test_the_profile_is_the_given_one_else_the_devices_else_one_with_the_homes_rhythm(home):
    spec = DeviceSpec("a", 4, 0, TEMP)
    mine = default_profile(spec)
    mine["occupancy"] = {**mine["occupancy"], "slot_s": 600}
    home.save_device(spec)
    home.save_profile("a", mine)
    assert define_device(home, "a", TEMP).profile == mine
    given = default_profile(spec)
    assert define_device(home, "a", TEMP, profile=given).profile == given
    assert define_device(home, "a", TEMP, replace=True).profile["occupancy"] == mine["occupancy"]
    new = define_device(home, "b", TEMP).profile
    assert new["occupancy"] == mine["occupancy"] and set(new["channels"]) == {"temp"}
