"""Patch quality: scores of what makes a patch on tissue unusable (blur, pen, folds, bubbles,
glass), a verdict per patch from thresholds, and where the scores came from."""
