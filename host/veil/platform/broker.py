"""`veil broker`: a Mosquitto set-up for a home or a platform, with per-device credentials and TLS.

Writes into one folder: a CA and a server certificate (made with `cryptography`), a password
file hashed by `mosquitto_passwd`, an ACL that lets device `D` publish to `<prefix>/D` only and
readers (ingest services, owners) read `<prefix>/#`, and `mosquitto.conf`. The plain-text
passwords are kept in `credentials.json` and one file per user in `passwords/` (mode 0600, the
folder 0700: veil.private), so that provisioning can carry a device's password to its board
and services can read theirs with `--password-file`; nothing here prints one.
"""

from __future__ import annotations

import datetime as dt
import getpass
import ipaddress
import json
import secrets
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from ..errors import VeilError
from ..feed import MAX_LINE
from ..private import private_dir, write_private
from ..protocol import NAME_RE

CREDENTIALS = "credentials.json"
MAX_PACKET = MAX_LINE + 512  # the largest record a platform takes, its topic and headers
MAX_QUEUED_BYTES = 512 * 2**20  # per client, waiting while it is away


class BrokerError(VeilError):
    """The broker folder could not be set up."""


@dataclass
class BrokerFiles:
    dir: Path
    host: str
    tls_port: int
    plain_port: int | None

    @property
    def config(self) -> Path:
        return self.dir / "mosquitto.conf"

    @property
    def ca_pem(self) -> Path:
        return self.dir / "ca.pem"

    @property
    def ca_der(self) -> Path:
        return self.dir / "ca.der"

    def credentials(self) -> dict[str, dict]:
        return read_credentials(self.dir)

    def password(self, user: str) -> str:
        creds = self.credentials()
        if user not in creds:
            raise BrokerError(f"no user {user!r} in {self.dir / CREDENTIALS}")
        return creds[user]["password"]


def read_credentials(folder: Path) -> dict[str, dict]:
    path = Path(folder) / CREDENTIALS
    if not path.exists():
        return {}
    try:
        return json.loads(path.read_text())
    except ValueError as e:
        raise BrokerError(f"{path} is damaged: {e}") from None


def _names(host: str) -> list:
    from cryptography import x509

    names = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    try:
        names.append(x509.IPAddress(ipaddress.ip_address(host)))
    except ValueError:
        names.append(x509.DNSName(host))
    return list(dict.fromkeys(names))


def make_certificates(folder: Path, host: str) -> None:
    """A CA (kept in the folder, key 0600) and a server certificate for `host` it signs.
    An existing CA is kept, so boards provisioned with it stay valid."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    pem = serialization.Encoding.PEM
    now = dt.datetime.now(dt.UTC)
    key_pem = {
        "encoding": pem,
        "format": serialization.PrivateFormat.PKCS8,
        "encryption_algorithm": serialization.NoEncryption(),
    }
    ca_key_path, ca_path = folder / "ca.key", folder / "ca.pem"
    if ca_path.exists() and ca_key_path.exists():
        ca_key = serialization.load_pem_private_key(ca_key_path.read_bytes(), None)
        ca = x509.load_pem_x509_certificate(ca_path.read_bytes())
    else:
        ca_key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "veil broker CA")])
        ca = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(ca_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(False, False, False, False, False, True, True, False, False),
                critical=True,
            )
            .sign(ca_key, hashes.SHA256())
        )
        write_private(ca_key_path, ca_key.private_bytes(**key_pem))
        ca_path.write_bytes(ca.public_bytes(pem))
    (folder / "ca.der").write_bytes(ca.public_bytes(serialization.Encoding.DER))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)]))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=825))
        .add_extension(x509.SubjectAlternativeName(_names(host)), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    write_private(folder / "server.key", key.private_bytes(**key_pem))
    (folder / "server.pem").write_bytes(cert.public_bytes(pem))


def _config(folder: Path, host: str, tls_port: int, plain_port: int | None) -> str:
    d = folder.resolve()
    lines = [
        "# Written by `veil broker`; start with: mosquitto -c " + str(d / "mosquitto.conf"),
        "per_listener_settings false",
        "allow_anonymous false",
        f"password_file {d / 'passwd'}",
        f"acl_file {d / 'acl'}",
        "persistence true",
        f"persistence_location {d}/",
        # A crash (SIGKILL, power loss) keeps what the last autosave held: every second, so
        # that an ingest session and its subscription, and records queued for it, outlive it.
        "autosave_interval 1",
        # Limits a client with valid credentials could otherwise abuse (docs/transports.md):
        # a packet is a record and a topic, never the 256 MB MQTT allows (a bigger one ends
        # the connection before the broker reads it); what waits for a subscriber is bounded
        # in messages and bytes; nothing is retained (a retained record would greet every
        # new subscriber); a session left for 30 days is dropped.
        f"max_packet_size {MAX_PACKET}",
        "max_queued_messages 1000000",
        f"max_queued_bytes {MAX_QUEUED_BYTES}",
        "max_inflight_messages 10000",
        "retain_available false",
        "persistent_client_expiration 30d",
        "set_tcp_nodelay true",
        "log_dest stderr",
        "log_type error",
        "log_type warning",
        "log_type notice",
        f"user {getpass.getuser()}",
        "",
        f"listener {tls_port} {host}",
        f"cafile {d / 'ca.pem'}",
        f"certfile {d / 'server.pem'}",
        f"keyfile {d / 'server.key'}",
        "tls_version tlsv1.2",
    ]
    if plain_port is not None:
        lines += [
            "",
            "# Password login without TLS: for loopback only.",
            f"listener {plain_port} {host}",
        ]
    return "\n".join(lines) + "\n"


def write_broker(
    folder: str | Path,
    *,
    devices: list[str] = (),
    readers: list[str] = (),
    host: str = "127.0.0.1",
    tls_port: int = 8883,
    plain_port: int | None = None,
    prefix: str = "veil",
) -> BrokerFiles:
    """Create or update a broker folder; existing users keep their passwords."""
    if not shutil.which("mosquitto_passwd"):
        raise BrokerError(
            "mosquitto_passwd not found: install Mosquitto (apt-get install mosquitto)"
        )
    folder = private_dir(folder)  # it holds the CA's key and every password
    creds = read_credentials(folder)
    for role, names in (("device", devices), ("reader", readers)):
        for name in names:
            if not NAME_RE.match(name):
                raise BrokerError(f"bad user name {name!r}: use 1-32 of A-Z a-z 0-9 _ -")
            if name in creds and creds[name]["role"] != role:
                raise BrokerError(f"{name} is already a {creds[name]['role']}")
            creds.setdefault(name, {"role": role, "password": secrets.token_urlsafe(18)})
    write_private(folder / CREDENTIALS, (json.dumps(creds, indent=1) + "\n").encode())
    for user, c in creds.items():
        write_private(folder / "passwords" / user, c["password"].encode() + b"\n")
    passwd = folder / "passwd"
    write_private(passwd, "".join(f"{u}:{c['password']}\n" for u, c in creds.items()).encode())
    done = subprocess.run(["mosquitto_passwd", "-U", str(passwd)], capture_output=True, text=True)
    if done.returncode:
        raise BrokerError(f"mosquitto_passwd failed: {done.stderr.strip()}")
    acl = [f"pattern write {prefix}/%u", ""]
    for user, c in sorted(creds.items()):
        if c["role"] == "reader":
            acl += [f"user {user}", f"topic read {prefix}/#", ""]
    (folder / "acl").write_text("\n".join(acl))
    make_certificates(folder, host)
    (folder / "mosquitto.conf").write_text(_config(folder, host, tls_port, plain_port))
    return BrokerFiles(folder, host, tls_port, plain_port)
