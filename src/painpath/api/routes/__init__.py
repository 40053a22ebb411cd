"""One small module per resource; each exposes ``router``."""
