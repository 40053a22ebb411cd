"""The painpath command line: evaluate, rules, serve, synth, audit, keys."""

from painpath.cli.main import main

__all__ = ["main"]
