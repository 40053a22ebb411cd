"""Tests of the decision log and key store on SQLite and PostgreSQL."""
