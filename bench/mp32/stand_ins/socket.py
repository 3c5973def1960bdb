"""A stand-in for the socket module, which MicroPython's WebAssembly port lacks: measuring
the firmware's network sinks there, every connection fails as with no network (the sink keeps
its records in the outbox and retries). Never shipped as firmware."""

SOCK_STREAM = 1


def getaddrinfo(host, port, af=0, type=0):
    raise OSError(113)  # EHOSTUNREACH: no network while measuring


class socket:
    def __init__(self, *args):
        raise OSError(113)
