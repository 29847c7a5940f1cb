"""Benchmarks: scripts that print figures and assert nothing about time (`python -m benchmarks`)."""
