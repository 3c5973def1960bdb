"""Simulation: the real firmware on a virtual board (the MicroPython Unix port behind a pty),
replaying recorded data; the demo and its picture of both views."""
