"""Guideline-adherence audit of a cohort: measure populations, reports, and a synthetic cohort.

The audit is a client of the engine (``painpath.engine``) and of the facts (``painpath.facts``);
neither imports it. See docs/audit.md.
"""
