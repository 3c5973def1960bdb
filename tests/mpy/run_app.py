"""Run the firmware's tick loop in the current folder (a board's filesystem) until it ends."""

from veil import app

app.main()
