"""The QC page of an output root: `report.html`, one row per slide, from the run records, the
slide cards each run leaves in `report_files/`, and the HDF5 files."""
