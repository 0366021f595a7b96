"""Patch coordinates: the grid over tissue, magnification and geometry."""
