"""The devices of one home, each defined by the rules every device of a home follows
(`define_device`: veil sim and veil provision both call it).

All devices of a home share k and the epoch: the k virtual households are derived from the
home key, k and the epoch, so that fake household j tells one story on every device
(docs/protocol.md section 3). A new device therefore takes the home's k and epoch.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ..dataset import Series
from ..errors import VeilError
from ..privacy.profile import default_profile, for_series
from ..protocol import Channel, DeviceSpec
from .home import Home

DEFAULT_K = 4


@dataclass(frozen=True)
class Definition:
    """A device as its home defines it: its spec and the decoy profile its board gets."""

    spec: DeviceSpec
    profile: dict

    @property
    def weak(self) -> bool:
        """Whether the profile's check (veil profile fit) missed the privacy targets."""
        check = self.profile.get("check")
        return bool(check) and not check.get("met", True)

    def save(self, home: Home) -> None:
        """Keep the device's spec and profile in the home: once its board holds them."""
        home.save_device(self.spec)
        home.save_profile(self.spec.device, self.profile)


def household(
    home: Home, device: str, *, k: int | None = None, epoch: int | None = None
) -> tuple[int, int]:
    """k and epoch for `device`: the ones its home's other devices use, else its own from an
    earlier provisioning, else the defaults."""
    known = home.devices()
    others = {n: s for n, s in known.items() if n != device}
    shared = {(s.k, s.epoch) for s in others.values()}
    if len(shared) > 1:
        raise VeilError(f"the devices of {home.path} disagree on k and epoch: {sorted(shared)}")
    if not shared:
        own = known.get(device)
        default_k, default_epoch = (own.k, own.epoch) if own else (DEFAULT_K, 0)
        return k or default_k, default_epoch if epoch is None else epoch
    home_k, home_epoch = shared.pop()
    if (k or home_k, home_epoch if epoch is None else epoch) != (home_k, home_epoch):
        raise VeilError(
            f"the home {home.path} uses k={home_k} and epoch {home_epoch} for "
            f"{', '.join(sorted(others))}; every device of a home must use the same, so that "
            "its fake households tell one story across devices"
        )
    return home_k, home_epoch


def define_device(
    home: Home,
    device: str,
    channels: Iterable[Channel],
    *,
    k: int | None = None,
    epoch: int | None = None,
    profile: dict | None = None,
    series: Series | None = None,
    kinds: Sequence[str] | None = None,
    replace: bool = False,
    weak_decoys: bool = False,
) -> Definition:
    """`device` of `home` publishing `channels`, as every rule of the home says:

    - k and epoch are the home's (`household`), else the ones given, else the defaults;
    - a device the home already has keeps its spec when its channels keep their names and
      decimals (readings beyond its bounds are then published as stand-ins, as a real
      sensor's would be); any other change needs `replace`, since records made under the old
      spec would no longer decode;
    - the decoy profile is `profile`, else the one the device had (unless replaced), else one
      for a new device with the home's shared household rhythm: fitted from the recorded
      `series` it replays (the home's own history), else the default models of its `kinds`
      (a board file's sensors say them; guessed from the channel names otherwise);
    - a profile whose check by `veil profile fit` missed the privacy targets goes to a board
      only with `weak_decoys` (`Definition.weak` then says so, for a warning).

    Nothing is saved: `Definition.save()` keeps it once the board holds it.
    """
    k, epoch = household(home, device, k=k, epoch=epoch)
    spec = DeviceSpec(device, k, epoch, tuple(channels))
    old = home.devices().get(device)
    if old and old != spec and not replace:
        if _shape(old) != _shape(spec):
            raise VeilError(
                f"device {device} is already provisioned with a different spec "
                "(channels, k or epoch); records made under the old spec would no longer "
                "decode. Use another device name, or --replace to redefine it"
            )
        spec = old
    profile = profile or (None if replace else home.profile(device))
    definition = Definition(spec, profile or _new_profile(home, spec, series, kinds=kinds))
    if definition.weak and not weak_decoys:
        check = definition.profile["check"]
        raise VeilError(
            f"the decoy profile of {device} missed the privacy targets when `veil profile fit` "
            f"checked it (discriminative score {check['discriminative']:.2f}, real track named "
            f"on {check['picked']:.0%} of {check['days']} days): fit on more history, or push "
            "it anyway with --weak-decoys"
        )
    return definition


def _shape(spec: DeviceSpec) -> tuple:
    return spec.k, spec.epoch, [(c.name, c.dec) for c in spec.channels]


def _new_profile(home: Home, spec: DeviceSpec, series: Series | None, *, kinds) -> dict:
    shared = home.occupancy()
    if series is not None:
        return for_series(series, spec, shared)
    found = default_profile(spec, kinds)
    return {**found, "occupancy": shared or found["occupancy"]}
