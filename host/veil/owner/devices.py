"""The devices of one home, each defined by the rules every device of a home follows
(`define_device`: veil sim and veil provision both call it).

All devices of a home share k, the epoch, the protocol version and the time-zone offset: the k
virtual households are derived from the home key, k and the epoch, so that fake household j
tells one story on every device, and in protocol v2 the real household is re-dealt each
household day of the home's local time, the same one on every device (docs/protocol.md
section 3). A new device therefore takes the home's values; a new home speaks v2.
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
DEFAULT_VERSION = 2  # a new home's devices re-deal the real household daily


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
    home: Home,
    device: str,
    *,
    k: int | None = None,
    epoch: int | None = None,
    tz: int | None = None,
    version: int | None = None,
) -> tuple[int, int, int, int]:
    """(k, epoch, protocol version, tz) for `device`: the ones its home's other devices use,
    else its own from an earlier provisioning, else the ones given, else the defaults."""
    known = home.devices()
    others = {n: s for n, s in known.items() if n != device}
    shared = {(s.k, s.epoch, s.version, s.tz) for s in others.values()}
    if len(shared) > 1:
        raise VeilError(
            f"the devices of {home.path} disagree on k, epoch, protocol version and time-zone "
            f"offset: {sorted(shared)}"
        )
    asked = (k, epoch, version, tz)
    if not shared:
        own = known.get(device)
        base = (
            (own.k, own.epoch, own.version, own.tz) if own else (DEFAULT_K, 0, DEFAULT_VERSION, 0)
        )
        return tuple(b if a is None else a for a, b in zip(asked, base, strict=True))
    rules = shared.pop()
    if any(a is not None and a != b for a, b in zip(asked, rules, strict=True)):
        hk, he, hv, htz = rules
        raise VeilError(
            f"the home {home.path} uses k={hk}, epoch {he}, protocol v{hv} and tz {htz} for "
            f"{', '.join(sorted(others))}; every device of a home must use the same, so that "
            "its fake households tell one story across devices"
        )
    return rules


def define_device(
    home: Home,
    device: str,
    channels: Iterable[Channel],
    *,
    k: int | None = None,
    epoch: int | None = None,
    tz: int | None = None,
    profile: dict | None = None,
    series: Series | None = None,
    kinds: Sequence[str] | None = None,
    replace: bool = False,
    weak_decoys: bool = False,
) -> Definition:
    """`device` of `home` publishing `channels`, as every rule of the home says:

    - k, epoch, protocol version and time-zone offset `tz` are the home's (`household`),
      else the ones given, else the defaults (a new home speaks protocol v2);
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
    k, epoch, version, tz = household(home, device, k=k, epoch=epoch, tz=tz)
    spec = DeviceSpec(device, k, epoch, tuple(channels), version=version, tz=tz)
    old = home.devices().get(device)
    if old and old != spec and not replace:
        if _shape(old) != _shape(spec):
            raise VeilError(
                f"device {device} is already provisioned with a different spec "
                "(channels, k, epoch or tz); records made under the old spec would no longer "
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
    return spec.k, spec.epoch, spec.version, spec.tz, [(c.name, c.dec) for c in spec.channels]


def _new_profile(home: Home, spec: DeviceSpec, series: Series | None, *, kinds) -> dict:
    shared = home.occupancy()
    if series is not None:
        return for_series(series, spec, shared)
    found = default_profile(spec, kinds)
    return {**found, "occupancy": shared or found["occupancy"]}
