"""The rule engine: load and validate rules, evaluate facts, explain decisions."""
