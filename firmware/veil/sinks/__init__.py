"""Sinks: where records go. A sink is built as `Sink(options, record_size)` and offers
`write(line)` (one encoded record, newline included; the buffer is reused after the call),
`flush()` once per tick, and `close()`.
"""
