"""Reading a device's records back from a oneM2M CSE (HTTP binding): for the owner's decode
(`veil decode --cse URL`) and a platform's ingest (`veil ingest http://…`).

The layout is the firmware's (firmware/veil/onem2m.py, docs/transports.md): an AE per device
named after it, a container per track `t0` … `t<k-1>`, a contentInstance per record whose
content is the record's JSON text. Records come out as the feed reader gives them: a checked
Record, or the reason it is not one (bad content, a record of another device or track).

Paging: ACME applies `lim` and `ofst` to the children of the resource asked about, virtual
children (`la`, `ol`) included but never returned, so a page holds fewer results than asked
even when more follow, and a page past the end starts over from the first child
(COMPONENTS.md). So pages advance by `lim` (or by the CSE's content offset, X-M2M-CTO, where
a CSE sends one). Paging stops at a short page (the end of the children) once the
container's instance count (`cni`, read first) is reached, or at a page that brings nothing
new. `cni` is only a hint: after a restart ACME's count was seen one below the instances it
holds.
"""

from __future__ import annotations

import contextlib
import http.client
import itertools
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit

from ..errors import VeilError
from ..feed import Rejected, parse_message
from ..protocol import NAME_RE, MalformedRecord, Record

PAGE = 500
RETRIES = 6  # reads of a CSE that answers 5xx or drops the connection: 0.5 s, 1 s, ... 8 s
VIRTUAL = 2  # children ACME counts in a page but never returns: `la` and `ol`
NOT_FOUND = 4004
API = "Nveil"  # the App-ID of veil AEs: starts with N (non-registered) as oneM2M requires
ADMIN = "CAdmin"  # ACME's default admin originator: what a platform reads with by default
_RI = itertools.count()


class CseError(VeilError):
    """The CSE could not be reached, refused a request, or did not answer as oneM2M; `rsc` is
    the oneM2M response status code when the CSE gave one."""

    def __init__(self, message: str, rsc: int = 0):
        super().__init__(message)
        self.rsc = rsc


def device_origin(dev: str) -> str:
    """The originator (AE-ID) a device registers with: AE originators start with C or S."""
    return f"Cveil-{dev}"


@dataclass(frozen=True)
class CseUrl:
    """`http://HOST[:PORT]/CSE-NAME`: where a CSE's CSEBase answers."""

    host: str
    port: int
    path: str

    @classmethod
    def parse(cls, url: str) -> CseUrl:
        parts = urlsplit(url)
        if parts.scheme != "http" or not parts.hostname:
            raise CseError(f"not a CSE URL: {url!r} (use http://HOST[:PORT]/CSE-NAME)")
        if parts.username or parts.password or parts.query or parts.fragment:
            raise CseError(f"a CSE URL is http://HOST[:PORT]/CSE-NAME, not {url!r}")
        try:
            port = parts.port or 80
        except ValueError:
            raise CseError(f"bad port in {url!r}") from None
        path = "/" + parts.path.strip("/")
        if path == "/":
            raise CseError(f"{url!r} names no CSE: add its name, e.g. http://HOST:8080/cse-in")
        return cls(parts.hostname, port, path)

    def __str__(self) -> str:
        return f"http://{self.host}:{self.port}{self.path}"


class Cse:
    """A keep-alive HTTP connection to a CSE for reading, as originator `origin`."""

    def __init__(self, url: CseUrl, origin: str, timeout: float = 10.0):
        self.url = url
        self.origin = origin
        self.conn = http.client.HTTPConnection(url.host, url.port, timeout=timeout)

    def get(self, path: str, query: str = "") -> tuple[dict, dict]:
        """(JSON body, headers) of a RETRIEVE of `path` (below the CSE's host)."""
        headers = {
            "X-M2M-Origin": self.origin,
            "X-M2M-RI": f"veil-{next(_RI)}",
            "X-M2M-RVI": "3",
            "Accept": "application/json",
        }
        target = path + (f"?{query}" if query else "")
        for attempt in range(RETRIES):
            try:
                self.conn.request("GET", target, headers=headers)
                resp = self.conn.getresponse()
                body = resp.read()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                self.conn.close()  # a kept-alive connection the CSE closed: open it again
                if attempt == RETRIES - 1:
                    raise CseError(f"CSE {self.url} closed the connection") from None
                continue
            except (OSError, http.client.HTTPException) as e:
                self.conn.close()
                raise CseError(f"cannot reach CSE {self.url}: {e}") from None
            if resp.status < 500 or attempt == RETRIES - 1:
                break
            # ACME answers 500 for a while just after a restart: reads are safe to retry
            time.sleep(0.5 * 2**attempt)
        rsc = resp.getheader("X-M2M-RSC", "")
        try:
            doc = json.loads(body) if body else {}
        except (ValueError, RecursionError):  # RecursionError: a device's nested content
            raise CseError(f"{self.url} answered HTTP {resp.status}, not as a CSE") from None
        if resp.status != 200:
            why = str(doc.get("m2m:dbg", "")) if isinstance(doc, dict) else ""
            raise CseError(
                f"CSE refused to read {path}: HTTP {resp.status}, RSC {rsc or '?'}"
                + (f" ({why[:120]})" if why else ""),
                int(rsc) if rsc.isdigit() else 0,
            )
        if not isinstance(doc, dict):
            raise CseError(f"{self.url} did not answer as a oneM2M CSE")
        return doc, {k.lower(): v for k, v in resp.getheaders()}

    def paged(self, path: str, query: str, pick, hint: int = 0) -> list:
        """Every result of a paged retrieval; `pick(doc)` gives a page's results, each with a
        stable identity. A short page (the end of the children) ends it once `hint` results
        (the CSE's count, which may be off by a few) are in; a page that brings nothing new
        ends it always (see the module doc)."""
        seen: set = set()
        out: list = []
        ofst = 1
        while True:
            doc, headers = self.get(path, f"{query}&lim={PAGE}&ofst={ofst}")
            page = pick(doc)
            new = [x for x in page if _identity(x) not in seen]
            seen.update(map(_identity, new))
            out += new
            cto = headers.get("x-m2m-cto", "")
            if cto.isdigit() and int(cto) > ofst:  # a CSE that says where the rest starts
                ofst = int(cto)
                continue
            if not new or (len(page) < PAGE - VIRTUAL and len(out) >= hint):
                return out
            ofst += PAGE

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Cse:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _identity(x):
    return x.get("ri") if isinstance(x, dict) else x


def _uris(doc: dict) -> list:
    uris = doc.get("m2m:uril", [])
    return [u for u in uris if isinstance(u, str)] if isinstance(uris, list) else []


def _instances(doc: dict) -> list:
    """The contentInstances of a `rcn=8` answer: {"m2m:cnt": {"m2m:cin": [...]}}."""
    inner = next(iter(doc.values()), {}) if doc else {}
    cins = inner.get("m2m:cin", []) if isinstance(inner, dict) else []
    return [c for c in cins if isinstance(c, dict) and "ri" in c] if isinstance(cins, list) else []


def _record(origin: str, dev: str, cnt: str, cin: dict) -> Record | Rejected:
    """A contentInstance's content as a record of device `dev`, track `cnt`, or why not."""
    con = cin.get("con")
    try:
        if not isinstance(con, str):
            raw = _json_text(con)
            raise MalformedRecord("content is not a record's JSON text")
        raw = con.encode(errors="surrogatepass")  # a lone surrogate: "not UTF-8 text"
        rec = parse_message(raw)
        if rec.dev != dev:
            raise MalformedRecord(f"record of device {rec.dev} in the AE of device {dev}")
        if f"t{rec.trk}" != cnt:
            raise MalformedRecord(f"record of track {rec.trk} in container {cnt}")
        return rec
    except MalformedRecord as e:
        return Rejected(origin, str(e), raw)


def _json_text(con) -> bytes:
    """What a content that is no JSON text held, as bytes to quarantine."""
    try:
        return json.dumps(con).encode(errors="surrogatepass")
    except (ValueError, RecursionError):
        return b""


def device_items(cse: Cse, dev: str) -> list[tuple[str, Record | Rejected]] | None:
    """Every record of device `dev` in CSE arrival order (creation time), or None when the CSE
    has no AE for it."""
    ae = f"{cse.url.path}/{dev}"
    try:
        uris = cse.paged(ae, "fu=1&ty=3", _uris)
    except CseError as e:
        if e.rsc == NOT_FOUND:
            return None
        raise
    found = []
    for uri in uris:
        cnt = uri.rsplit("/", 1)[-1]
        path = f"{ae}/{cnt}"
        doc, _ = cse.get(path)
        cni = (doc.get("m2m:cnt") or {}).get("cni")
        for cin in cse.paged(path, "rcn=8&ty=4", _instances, cni if isinstance(cni, int) else 0):
            origin = f"{path}/{cin.get('rn', cin['ri'])}"
            found.append((str(cin.get("ct", "")), origin, _record(origin, dev, cnt, cin)))
    found.sort(key=lambda x: x[0])
    return [(origin, item) for _ct, origin, item in found]


def veil_devices(cse: Cse) -> list[str]:
    """The devices that publish into this CSE: its AEs with veil's App-ID."""
    devices = []
    for uri in cse.paged(cse.url.path, "fu=1&ty=2", _uris):
        name = uri.rsplit("/", 1)[-1]
        with contextlib.suppress(CseError):
            doc, _ = cse.get(f"{cse.url.path}/{name}")
            if (doc.get("m2m:ae") or {}).get("api") == API and NAME_RE.match(name):
                devices.append(name)
    return devices


def read_devices(
    url: str, devices: list[str], origin: str | None = None
) -> tuple[Iterator[tuple[str, Record | Rejected]], list[str]]:
    """(records of the devices that are on the CSE, devices that are not). Each device is read
    as its own AE unless `origin` names another originator allowed to read it."""
    cse_url = CseUrl.parse(url)
    items: list = []
    absent = []
    for dev in devices:
        with Cse(cse_url, origin or device_origin(dev)) as cse:
            got = device_items(cse, dev)
        if got is None:
            absent.append(dev)
        else:
            items += got
    return iter(items), absent
