"""The green-space register: the parks, pocket parks and squares the city already has.

:mod:`~greenspace.kinds` (the kinds as data, and the names files use for them) and
:mod:`~greenspace.read` (a park file — GeoPackage, GeoJSON, Shapefile, GeoParquet or
CSV — read, checked and brought to WGS84 the way boundary files are).  The register
is stored by :mod:`store.greenspace`, imported with ``siji parks import``, listed by
``siji parks list`` and ``GET /v1/parks``, and used by the pocket-park plan
(:mod:`maps.analysis.coverage`).
"""
