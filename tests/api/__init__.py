"""Tests of the HTTP service, end to end through the real uvicorn server."""
