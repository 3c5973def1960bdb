"""veil firmware: publish every real reading hidden among keyed fake ones."""
