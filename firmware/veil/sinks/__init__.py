"""Sinks: where records go. A sink is built as `Sink(options, record_size)`, where `options`
is the config's "sink" entry plus `dev` (device id, bytes) and `k`, and offers
`write(line, trk, report)` (one encoded record of track `trk`, newline included; the buffer is
reused after the call; `report` is the drop report the record carries, 0 but on the real
track), `drop_report()` once per tick before encoding (records the sink dropped and not yet
reported, at most 255: docs/protocol.md 4.4; 0 for a sink that never drops), `flush()` once
per tick, and `close()`.
"""
