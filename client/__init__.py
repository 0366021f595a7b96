"""Clients for the model services, and in-process adapters with the same interface."""
