"""Boundary sets: reading, validating and versioning the polygons that decide who owns
a point, and the bundled Tai'an demo set."""
