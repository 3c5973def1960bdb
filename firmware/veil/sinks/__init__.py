"""Sinks: where records go. A sink is built as `Sink(options, record_size)`, where `options`
is the config's "sink" entry plus `dev` (device id, bytes) and `k`, and offers
`write(line, trk)` (one encoded record of track `trk`, newline included; the buffer is reused
after the call), `flush()` once per tick, and `close()`.
"""
