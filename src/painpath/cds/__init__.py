"""CDS Hooks 2.0.1 services: discovery, prefetch, cards and feedback, around the engine."""
