"""AtlasPatch orchestrator: the `atlaspatch` CLI and the slide-processing pipeline."""

__version__ = "0.1.0"
