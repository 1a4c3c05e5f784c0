"""Boundary sets: reading, validating and versioning the polygons that decide who owns
a point; releases checked against the generation they follow, with lineage from
geometry; the service that answers from the generation valid today; and the bundled
Tai'an demo set."""
