"""`python -m veil.cli`: the `veil` command, as the tests run it."""

from . import main

main()
