"""Slide and patient encoders: models that turn a slide's patch features (the
`features/<patch encoder>` of its HDF5) into one vector per slide or per patient.

`catalog` holds their facts and imports nothing heavy; `loading` builds them.
"""
