"""The per-slide pipeline: segment, place patches, embed, write."""
