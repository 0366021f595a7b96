"""What a run writes: the HDF5 files and the pictures."""
