"""The privacy model on the laptop: decoy profiles (fitted from the home's own history, with
shipped defaults in profiles/defaults.json) and the audit that attacks a disguised feed."""
