"""siji (四级): four-level jurisdiction routing for city management.

This package is the composition root: the ``siji`` command line wires the other
packages (geo, boundaries, batch, store, api) together.
"""

__version__ = "0.1.0"
