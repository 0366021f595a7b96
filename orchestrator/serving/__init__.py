"""Hosting the model services: gRPC server lifecycle, status mapping, auth, metrics."""
