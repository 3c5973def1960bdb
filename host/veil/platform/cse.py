"""`veil cse`: a set-up for the ACME oneM2M CSE (PyPI `acmecse`) that boards publish into.

ACME reads `acme.ini` from its base directory (without one it opens an interactive set-up
dialog). This writes a headless one: an IN-CSE on one HTTP port of one address (ACME's default
is every interface), the text UI off, and either an in-memory database (gone when the CSE
stops) or PostgreSQL. PostgreSQL is the durable choice: ACME 2026.5.3 with its TinyDB files
lost a few contentInstances it had acknowledged (2-6 of 300) across each restart, SIGINT or
SIGTERM alike; on PostgreSQL none, even after SIGKILL (docs/transports.md).

Discovery is left unsorted: ACME writes a new resource, then stamps its creation time and
writes it again, so a CSE stopped between the two keeps a contentInstance without `ct`, and
sorting a container's instances by `ct` then fails on every read of that container. veil
orders records by their own sequence numbers and needs no sorting.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from ..errors import VeilError

CSE_ID = "id-veil"

_INI = """\
[basic.config]
cseType=IN
cseID={cse_id}
cseName={name}
adminID=CAdmin
cseHost={host}
networkInterface={host}
httpPort={port}
databaseType={db}
logLevel=warning

[cse]
sortDiscoveredResources=false

[textui]
startWithTUI=false

[console]
headless=true

[http.wsgi]
enable=true
"""

_PG = """
[database.postgresql]
host={host}
port={port}
database={database}
role={role}
"""


def write_cse(
    folder: Path, *, port: int, name: str = "cse-veil", host: str = "127.0.0.1", db: str = ""
) -> Path:
    """Write FOLDER/acme.ini; `db` is empty (in memory) or a postgresql://ROLE@HOST[:PORT]/DB
    URL (a password, if the server needs one, goes in ACME_DATABASE_POSTGRESQL_PASSWORD, which
    ACME reads: it is never written to the file)."""
    if not name.replace("-", "").replace("_", "").isalnum():
        raise VeilError(f"bad CSE name {name!r}: use letters, digits, - and _")
    ini = _INI.format(
        cse_id=CSE_ID, name=name, host=host, port=port, db="postgresql" if db else "memory"
    )
    if db:
        u = urlsplit(db)
        if u.scheme not in ("postgresql", "postgres") or not u.hostname or not u.username:
            raise VeilError(f"not a PostgreSQL URL: {db!r} (postgresql://ROLE@HOST[:PORT]/DB)")
        if u.password:
            raise VeilError("put no password in the URL: set ACME_DATABASE_POSTGRESQL_PASSWORD")
        ini += _PG.format(
            host=u.hostname, port=u.port or 5432, database=u.path.strip("/"), role=u.username
        )
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "acme.ini"
    path.write_text(ini)
    return path
