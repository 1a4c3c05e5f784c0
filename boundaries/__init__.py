"""Boundary sets: reading, validating and versioning the polygons that decide who owns
a point; releases checked against the generation they follow, with lineage from
geometry; the service that answers from the generation valid today; unit codes in
their short forms (6-digit GB/T 2260, 9-digit township) read as 12-digit ones; and the
bundled Tai'an demo set."""
