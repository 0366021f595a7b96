"""Patch encoders: the registry of named encoders, weight lookup, preprocessing, inference."""
