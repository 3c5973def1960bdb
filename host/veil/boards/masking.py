"""Masking secrets in anything shown to the user (the board's log): the home key in every
form it could be printed in, long hex runs, and values of password- or key-like settings."""

from __future__ import annotations

import base64
import re

MASK = "***"
_LONG_HEX = re.compile(r"\b[0-9a-fA-F]{64,}\b")
_SECRET_SETTING = re.compile(
    r"""(?ix)
    ( ["']? \b (?: password | passwd | pass | psk | secret | token | wifi_key | key ) \b ["']?
      \s* [:=] \s* )
    ( "[^"]*" | '[^']*' | b'[^']*' | [^\s,}]+ )
    """
)


def secret_forms(secret: bytes) -> list[str]:
    """The ways a byte string may show up in text: hex, base64, Python's bytes repr."""
    return [
        secret.hex(),
        secret.hex().upper(),
        base64.b64encode(secret).decode(),
        repr(secret)[2:-1],
    ]


class Masker:
    def __init__(self, secrets: list[bytes] | None = None):
        self._forms = sorted(
            {f for s in secrets or [] for f in secret_forms(s) if len(f) >= 8}, key=len
        )[::-1]

    def __call__(self, line: str) -> str:
        for form in self._forms:
            line = line.replace(form, MASK)
        line = _LONG_HEX.sub(MASK, line)
        return _SECRET_SETTING.sub(lambda m: m.group(1) + MASK, line)
