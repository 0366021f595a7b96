"""Encoders in NVIDIA Triton: exported models, the Python backend's model, and forwarding."""
