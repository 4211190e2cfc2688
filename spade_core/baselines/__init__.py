"""Baseline generators, each one module with a `run` building the same artifact as Stage III."""
