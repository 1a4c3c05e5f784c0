"""What a file's first bytes say it is: one table of file signatures, read by the batch
readers (a mislabelled upload) and the boundary reader (a mislabelled boundary file).

A table and a lookup on bytes already read; no file is opened here.
"""

from __future__ import annotations

#: First bytes of binary formats -> what a user would call such a file.
SIGNATURES: dict[bytes, str] = {
    b"PK\x03\x04": "a zip archive",
    b"\x1f\x8b": "gzip data",
    b"BZh": "bzip2 data",
    b"\xfd7zXZ": "xz data",
    b"7z\xbc\xaf": "a 7-Zip archive",
    b"Rar!": "a RAR archive",
    b"\x89PNG": "a PNG image",
    b"\xff\xd8\xff": "a JPEG image",
    b"%PDF": "a PDF document",
    b"\xd0\xcf\x11\xe0": "an old Office document (.xls/.doc)",
    b"SQLite format 3\x00": "an SQLite database",
    b"PAR1": "a Parquet file",
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
