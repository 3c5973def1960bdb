"""Hardware-in-the-loop suite: the virtual board by default, a real one with --port."""
