"""Settings sets: config.json, key.bin and any other settings files replaced all at once.

A power cut while the host writes a new set must leave the board with either the old set or
the new one, never a mix (a new config with an old key would publish under the wrong key).
The host (host/veil/boards/settingset.py) writes each new file as NAME.new, then the commit record
`settings.commit` (as .tmp, then renamed: it exists whole or not at all) listing the names,
then runs apply(). apply() renames every NAME.new over NAME and removes the record last.
recover() runs at every boot: with a commit record the new set is complete, so it finishes
the renames; without one, the NAME.new files are an upload that never committed and are
removed. docs/deploy.md has the whole design.
"""

import os

COMMIT = "settings.commit"
_NEW = ".new"


def exists(path):
    try:
        os.stat(path)
        return True
    except OSError:
        return False


def _remove(path):
    try:
        os.remove(path)
    except OSError:
        pass


def _replace(src, dst):
    try:
        os.rename(src, dst)  # littlefs and POSIX replace dst atomically
    except OSError:
        _remove(dst)  # FAT refuses to rename over a file; the commit record covers the gap
        os.rename(src, dst)


def apply():
    """Move a committed set into place; safe to repeat after a cut at any point."""
    with open(COMMIT) as f:
        names = [n for n in f.read().split("\n") if n]
    for name in names:
        if exists(name + _NEW):
            _replace(name + _NEW, name)
    os.remove(COMMIT)


def recover():
    """At boot: finish a committed set, or drop an uncommitted one. Returns what it did."""
    _remove(COMMIT + ".tmp")
    if exists(COMMIT):
        apply()
        return "finished a committed update"
    dropped = False
    for name in os.listdir():
        if name.endswith(_NEW):
            os.remove(name)
            dropped = True
    return "dropped an uncommitted update" if dropped else ""
