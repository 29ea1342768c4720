"""The chat platforms: each translates its updates to `Incoming` and `Reply` to its calls."""
