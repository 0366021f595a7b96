"""Our HDF5 outputs written again in other tools' layouts (TRIDENT's, CLAM's), so that their
training and slide-encoding code reads them as their own."""
