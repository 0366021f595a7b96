"""Patch, slide and patient encoders, in rooms: `catalog/` (the built-in encoders as data,
torch-free), `networks/` (building them, their weights, the loaded encoder), `registry.py`
(catalogue and plugins: the one door to an encoder by name), `custom.py` (the plugin API
users' files import), `plugins/` (loading those files), `serving/` (the gRPC service),
`triton/` (NVIDIA Triton), `slide_encoders/` and `listing/` (for people)."""
