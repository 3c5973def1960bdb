"""Boards: board files, the mpremote link, flashing MicroPython, deploying the firmware,
provisioning a device, watching the log and fetching the spooled feed.

The board files themselves are `boards/*.toml` in a checkout and `veil/boards/files/` in the
wheel (veil.firmware finds them)."""
