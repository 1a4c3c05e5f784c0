"""siji (四级): four-level jurisdiction routing for city management.

This package is the composition root: the ``siji`` command line wires the other
packages (geo, boundaries, batch, store, routing, maps, greenspace, api) together.
:mod:`siji.launch` is the executable: a plain ``siji lookup`` is answered from the
index cache before typer is imported (printed by :mod:`siji.output`), everything else
goes to :mod:`siji.cli`, which holds the top-level commands (``lookup``,
``lookup-batch``, ``serve``) and mounts one module per command group when it is used:
:mod:`siji.boundaries_cli` (with :mod:`siji.release_view` and
:mod:`siji.lineage_export`), :mod:`siji.routing_cli` (``staff``, ``routing``),
:mod:`siji.maps_cli`, :mod:`siji.parks_cli` and :mod:`siji.webhooks_cli`.
:mod:`siji.console` is the shared output, errors and progress; :mod:`siji.sources`
where commands get their boundary sets; :mod:`siji.serve` runs the HTTP service.
"""

__version__ = "0.1.0"
