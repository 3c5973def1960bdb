"""Where the firmware and board files are: inside the installed wheel, or in a checkout."""

from __future__ import annotations

from pathlib import Path

_HERE = Path(__file__).resolve().parent


def _asset(name: str) -> Path:
    packaged = _HERE / name
    if packaged.is_dir():
        return packaged
    checkout = _HERE.parents[1] / name  # editable install: host/veil/../../<name>
    if checkout.is_dir():
        return checkout
    raise FileNotFoundError(f"veil is installed without its {name}/ folder")


def firmware_dir() -> Path:
    return _asset("firmware")


def boards_dir() -> Path:
    return _asset("boards")


def firmware_files(*, with_main: bool = True) -> dict[str, Path]:
    """Board path -> local file for every firmware source file."""
    root = firmware_dir()
    files = {
        p.relative_to(root).as_posix(): p
        for p in sorted(root.rglob("*.py"))
        if "__pycache__" not in p.parts
    }
    if not with_main:
        files.pop("main.py", None)
    return files
