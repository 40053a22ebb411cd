"""The HTTP API (FastAPI): a thin adapter around the engine."""
