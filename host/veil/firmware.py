"""Where the firmware and board files are: inside the installed wheel, or in a checkout.

The wheel holds them as `veil/firmware/` and `veil/boards/files/` (pyproject.toml), a checkout
as `firmware/` and `boards/` at the top of the repository.
"""

from __future__ import annotations

from pathlib import Path

_HERE = Path(__file__).resolve().parent


def _asset(packaged: str, checkout: str) -> Path:
    inside = _HERE / packaged
    if inside.is_dir():
        return inside
    outside = _HERE.parents[1] / checkout  # editable install: host/veil/../../<checkout>
    if outside.is_dir():
        return outside
    raise FileNotFoundError(f"veil is installed without its {checkout}/ folder")


def firmware_dir() -> Path:
    return _asset("firmware", "firmware")


def boards_dir() -> Path:
    return _asset("boards/files", "boards")


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
