"""The home key: from the CSPRNG, private on disk, never replaced by accident."""

import os
import stat

import pytest
from click.testing import CliRunner

from veil.cli import cli
from veil.owner.home import Home, KeyFileError


def test_keygen_writes_a_private_32_byte_key_and_never_prints_it(tmp_path):
    r = CliRunner().invoke(cli, ["keygen", "--home", str(tmp_path / "h")])
    assert r.exit_code == 0, r.output
    key_path = tmp_path / "h" / "home.key"
    key = key_path.read_bytes()
    assert len(key) == 32
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600
    assert key.hex() not in r.output and key.hex().upper() not in r.output


def test_two_keys_differ(tmp_path):
    a, b = Home(tmp_path / "a"), Home(tmp_path / "b")
    a.keygen()
    b.keygen()
    assert a.key() != b.key()


def test_keygen_refuses_to_replace_a_key(tmp_path):
    h = Home(tmp_path / "h")
    h.keygen()
    before = h.key()
    r = CliRunner().invoke(cli, ["keygen", "--home", str(h.path)])
    assert r.exit_code != 0
    assert "already exists" in str(r.exception)
    assert h.key() == before


def test_a_key_readable_by_others_is_refused(tmp_path):
    h = Home(tmp_path / "h")
    h.keygen()
    os.chmod(h.key_path, 0o644)
    with pytest.raises(KeyFileError, match="chmod 600"):
        h.key()


def test_a_truncated_key_is_refused(tmp_path):
    h = Home(tmp_path / "h")
    h.keygen()
    h.key_path.write_bytes(h.key()[:31])
    with pytest.raises(KeyFileError, match="not a 32-byte"):
        h.key()


def test_missing_key_says_what_to_do(tmp_path):
    with pytest.raises(KeyFileError, match="veil keygen"):
        Home(tmp_path / "nowhere").key()


def test_keygen_makes_a_private_home_folder(tmp_path):
    from veil.owner.home import Home

    home = Home(tmp_path / "new" / "home")
    home.keygen()
    assert (home.path.stat().st_mode & 0o777, home.key_path.stat().st_mode & 0o777) == (
        0o700,
        0o600,
    )
    assert len(home.key_path.read_bytes()) == 32  # docs/protocol.md 7: the raw 32 bytes
