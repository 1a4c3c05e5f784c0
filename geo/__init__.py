"""Spatial core of siji: coordinates and CRSs, the four levels, the exact lookup index,
snapping, and the table of file signatures the readers share.

Nothing here does I/O or touches a database: arrays and shapely geometries in,
arrays out.
"""
