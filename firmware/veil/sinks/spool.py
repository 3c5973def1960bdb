"""File spool sink: records appended as JSON lines to a file on the board's filesystem.

The embedded default transport: nothing but flash is needed, and the owner or a platform
collects the file over USB (`mpremote cp :feed.jsonl .`).
"""


class Sink:
    def __init__(self, options, record_size):
        self._f = open(options.get("file", "feed.jsonl"), "ab")

    def write(self, line, trk=0, report=0):
        self._f.write(line)

    def drop_report(self):
        return 0  # a file spool never drops

    def flush(self):
        self._f.flush()

    def close(self):
        self._f.close()
