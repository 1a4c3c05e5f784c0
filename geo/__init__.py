"""Spatial core of siji: coordinates and CRSs, the four levels, the exact lookup index.

Nothing here does I/O or touches a database: arrays and shapely geometries in,
arrays out.
"""
