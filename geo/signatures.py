"""What a file's first bytes say it is, and what each format's must be: one table of file
signatures, read by the batch readers (a mislabelled upload) and the boundary and park
readers (a mislabelled file).

A table and a lookup on bytes already read; no file is opened here.
"""

from __future__ import annotations

SQLITE = b"SQLite format 3\x00"
"""The first bytes of an SQLite database, so of every GeoPackage."""
PARQUET = b"PAR1"
"""The first and the last four bytes of a Parquet file."""
ZIP, EMPTY_ZIP = b"PK\x03\x04", b"PK\x05\x06"
SHAPEFILE = b"\x00\x00\x27\x0a"
"""A .shp file's first bytes: file code 9994, big-endian."""

#: What the first bytes of each binary format the readers take must be.
FORMAT_STARTS: dict[str, tuple[bytes, ...]] = {
    "GeoPackage": (SQLITE,),
    "GeoParquet": (PARQUET,),
    "Shapefile": (SHAPEFILE,),
    "zip": (ZIP, EMPTY_ZIP),
}

#: First bytes of binary formats -> what a user would call such a file.
SIGNATURES: dict[bytes, str] = {
    ZIP: "a zip archive",
    b"\x1f\x8b": "gzip data",
    b"BZh": "bzip2 data",
    b"\xfd7zXZ": "xz data",
    b"7z\xbc\xaf": "a 7-Zip archive",
    b"Rar!": "a RAR archive",
    b"\x89PNG": "a PNG image",
    b"\xff\xd8\xff": "a JPEG image",
    b"%PDF": "a PDF document",
    b"\xd0\xcf\x11\xe0": "an old Office document (.xls/.doc)",
    SQLITE: "an SQLite database",
    PARQUET: "a Parquet file",
}


def signature_of(head: bytes) -> bytes | None:
    """The signature (a key of :data:`SIGNATURES`) that ``head`` starts with, if any.

    Examples
    --------
    >>> signature_of(b"%PDF-1.7 ..."), signature_of(b"id,lon,lat")
    (b'%PDF', None)
    """
    return next((magic for magic in SIGNATURES if head.startswith(magic)), None)


def described(head: bytes) -> str | None:
    """What ``head`` says its file is ("a PNG image"), None for no known signature.

    Examples
    --------
    >>> described(b"PK\\x03\\x04..."), described(b"{")
    ('a zip archive', None)
    """
    magic = signature_of(head)
    return None if magic is None else SIGNATURES[magic]
