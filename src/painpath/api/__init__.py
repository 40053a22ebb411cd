"""The HTTP API (FastAPI): a thin adapter around the engine and the decision log.

Routes parse, call the engine, record and map results; there is no clinical logic here. Start it
with :func:`painpath.api.server.serve`; build the ASGI app with :func:`painpath.api.app.create_app`;
manage API keys with ``python -m painpath.cli.keys``. See ``docs/api.md``.
"""
