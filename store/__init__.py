"""Persistence: one place for the database (PostGIS, or an embedded SQLite default).

Other packages call the functions here; none of them builds SQL itself.
"""
