"""Persistence: the one database layer (PostGIS, or an embedded SQLite default).

``models.py`` declares every table (SQLAlchemy 2 + GeoAlchemy2), ``migrations/`` the
Alembic revisions that create and upgrade them, ``engine.py`` the engines and the
migration runner, ``types.py`` the geometry column that works on both databases.
``generations.py`` and ``units.py`` read and write boundary generations;
``postgis_lookup.py`` is the lookup that runs inside PostGIS; ``media.py`` the photo
files (written in two phases around their rows), ``leases.py`` the named leases that
let one process of many run a job.  Other packages reach
the database only through these: ``boundaries`` through the functions here,
``routing`` by querying the models of ``models.py`` with SQLAlchemy in its own
transactions.
"""
