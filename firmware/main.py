"""Board entry point: run the veil tick loop from config.json."""

from veil import app

app.main()
