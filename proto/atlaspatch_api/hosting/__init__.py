"""Hosting a model service: gRPC server lifecycle, health, reflection, interceptors, metrics,
status mapping, model files. The services use it; clients never do."""
