"""`veil profile fit`: the home's decoy profiles learned again from its own decoded history,
and kept in the home folder for the next provisioning to push to the boards."""

from __future__ import annotations

import numpy as np

from ..privacy.profile import fit_home
from .decode import decode
from .home import Home
from .sources import Items


def refit(
    home: Home, items: Items, *, label_times: np.ndarray | None = None, labels=None
) -> dict[str, int]:
    """Decode `items`, fit every device's profile from its real readings (sharing one
    household rhythm, from occupancy `labels` when given) and save them in the home; returns
    how many real readings each profile was fitted from."""
    specs = home.require_devices()
    readings, _report = decode(home.keys(), specs, items)
    profiles = fit_home(readings, specs, label_times=label_times, labels=labels)
    for dev, prof in profiles.items():
        home.save_profile(dev, prof)
    return {dev: sum(1 for r in readings if r.dev == dev) for dev in sorted(profiles)}
