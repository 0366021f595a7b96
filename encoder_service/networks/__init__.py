"""Building networks from catalogue entries: the builders by kind, published checkpoints and
where their weights are, precisions, and the loaded encoder (preprocessing and forward)."""
