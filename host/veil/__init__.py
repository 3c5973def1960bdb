"""veil: publish every real reading hidden among keyed fakes; de-mix it with the key."""

__version__ = "0.1.0"
