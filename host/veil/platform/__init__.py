"""The platform's side: ingest of disguised feeds (files, MQTT, a oneM2M CSE), the stores, the
broker and CSE set-ups. No key: nothing here imports veil.owner or veil.privacy, directly or
through another module (tests/test_architecture.py checks it)."""
