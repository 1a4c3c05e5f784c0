"""Planner maps: analyses of reports over the boundary set, and their rendering.

:mod:`maps.analysis` (GeoDataFrames in, GeoDataFrames out: density, hot spots, pocket
parks and coverage), :mod:`maps.render` (folium pages that work offline, one module per
map and the shared pieces), :mod:`maps.options` (each map's options,
declared once for the query and the flags), :mod:`maps.build` (each map for the service
and the command line: the analysis, its table and its drawing), :mod:`maps.sources` (what a map is
built from — demo or real reports, demo or registered parks — and the note that says
so), :mod:`maps.demo` (demo reports and parks) and :mod:`maps.offline` (the vendored
web assets).  The routes are in ``api.routes.maps``, the command line in
``siji.maps_cli``; the park register itself is :mod:`greenspace` and
:mod:`store.greenspace`.
"""
