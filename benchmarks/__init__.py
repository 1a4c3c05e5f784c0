"""Benchmarks: one command (``python -m benchmarks``) prints a table with ratios
against the peers measured in the same run.  Not timed tests: figures to read."""
