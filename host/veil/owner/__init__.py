"""The owner's side: the home folder and its key, the decode of disguised feeds, live or
stored. Holds the key: nothing under veil.platform may import this package."""
