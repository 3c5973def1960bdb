"""Devices of one home share k and the epoch (veil.devices.household)."""

from __future__ import annotations

import pytest

from veil.devices import household
from veil.errors import VeilError
from veil.protocol import Channel, DeviceSpec

CH = (Channel("t", 2, 0, 5000),)


def test_first_device_takes_the_defaults_or_what_it_is_given(home):
    assert household(home, "a", None, None) == (4, 0)
    assert household(home, "a", 8, 3) == (8, 3)


def test_a_device_keeps_its_own_values_when_provisioned_again(home):
    home.save_device(DeviceSpec("a", 6, 2, CH))
    assert household(home, "a", None, None) == (6, 2)


def test_later_devices_take_the_homes_values_and_refuse_others(home):
    home.save_device(DeviceSpec("a", 6, 2, CH))
    home.save_device(DeviceSpec("b", 6, 2, CH))
    assert household(home, "c", None, None) == (6, 2)
    assert household(home, "c", 6, 2) == (6, 2)
    for k, epoch in ((4, None), (None, 0), (8, 2)):
        with pytest.raises(VeilError, match="uses k=6 and epoch 2 for a, b"):
            household(home, "c", k, epoch)
