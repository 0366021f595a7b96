"""Runs over many slides: the runner, locks, shards and reports."""
