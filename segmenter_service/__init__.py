"""Tissue segmentation: model backends (SAM2, classical) behind one small interface."""
