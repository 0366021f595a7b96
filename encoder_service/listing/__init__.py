"""Encoder listings for people: the table of `atlaspatch encoders` and the Markdown catalogue."""
