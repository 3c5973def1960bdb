"""The network under the transports: Wi-Fi on a board, TCP with TLS to a server.

On an ESP32 the `network` module joins Wi-Fi; the Unix port (virtual board) has no such module
and uses the host's network. TLS verifies the server against a CA provisioned as DER
(`cadata=`, the only form MicroPython's mbedTLS accepts) with CERT_REQUIRED set explicitly,
because MicroPython's default is to verify nothing. TCP_NODELAY is set: without it small
publishes wait for Nagle's algorithm (40 ms each on Linux).
"""

import socket
import time

_IPPROTO_TCP = 6  # not exported by MicroPython's socket module
_TCP_NODELAY = 1


class LinkError(Exception):
    """The server answered, but not as the transport needs (refused, bad reply)."""


def wifi_up(ssid, password, timeout_ms=20000):
    """Join Wi-Fi if this board has a radio; without `network` the host's network is used."""
    try:
        import network
    except ImportError:
        return
    sta = network.WLAN(network.STA_IF)
    sta.active(True)
    if sta.isconnected():
        return
    if not ssid:
        raise LinkError("no Wi-Fi network configured")
    sta.connect(ssid, password)
    start = time.ticks_ms()
    while not sta.isconnected():
        if time.ticks_diff(time.ticks_ms(), start) > timeout_ms:
            raise LinkError("Wi-Fi %s did not connect" % ssid)
        time.sleep_ms(100)


def read_ca(path):
    """The CA certificate (DER bytes) from the board's flash, or None for plain TCP."""
    if not path:
        return None
    with open(path, "rb") as f:
        return f.read()


def connect(host, port, ca=None, timeout_s=10):
    """A connected stream (TLS when `ca` is given) with TCP_NODELAY and a send timeout."""
    addr = socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM)[0][-1]
    sock = socket.socket()
    try:
        sock.settimeout(timeout_s)
        sock.setsockopt(_IPPROTO_TCP, _TCP_NODELAY, 1)
        sock.connect(addr)
        if ca is not None:
            import ssl

            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            ctx.verify_mode = ssl.CERT_REQUIRED
            ctx.load_verify_locations(cadata=ca)
            sock = ctx.wrap_socket(sock, server_hostname=host)
    except BaseException:
        sock.close()
        raise
    return sock
