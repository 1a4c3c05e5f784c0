"""Canonical test images, good and hostile, made in memory with Pillow (shared by the photo tests).

``TAIAN_GPS`` is the position written into :func:`jpeg_with_gps`'s EXIF (泰山区), with a
camera serial number and an owner's name that must never survive re-encoding.
"""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Callable

from PIL import Image, TiffImagePlugin

TAIAN_GPS = (117.13, 36.19)
"""(lon, lat) in the EXIF of :func:`jpeg_with_gps`."""
SECRET_MAKER_NOTE = "SERIAL-7f3a9c21-WANG-XIAOMING"


def _picture(size: tuple[int, int] = (640, 480), mode: str = "RGB") -> Image.Image:
    image = Image.new(mode, size, "white" if mode != "RGBA" else (255, 255, 255, 0))
    for x in range(0, size[0], 16):  # some structure, so encoders do real work
        for y in range(0, size[1], 16):
            image.putpixel((x, y), (x % 256, y % 256, 90) + ((200,) if mode == "RGBA" else ()))
    return image


def _dms(value: float) -> tuple[TiffImagePlugin.IFDRational, ...]:
    degrees = int(value)
    minutes = int((value - degrees) * 60)
    seconds = (value - degrees - minutes / 60) * 3600
    return (
        TiffImagePlugin.IFDRational(degrees, 1),
        TiffImagePlugin.IFDRational(minutes, 1),
        TiffImagePlugin.IFDRational(round(seconds * 1000), 1000),
    )


def jpeg_with_gps(size: tuple[int, int] = (640, 480), orientation: int = 1) -> bytes:
    """A JPEG whose EXIF holds a GPS position, a camera serial, an owner's name and an orientation."""
    image = _picture(size)
    exif = image.getexif()
    exif[0x010F] = "SijiCam"  # Make
    exif[0xA431] = SECRET_MAKER_NOTE  # BodySerialNumber
    exif[0x013B] = "王小明"  # Artist
    exif[0x0112] = orientation
    gps = exif.get_ifd(0x8825)
    gps.update({1: "N", 2: _dms(TAIAN_GPS[1]), 3: "E", 4: _dms(TAIAN_GPS[0])})
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", exif=exif, quality=90)
    return buffer.getvalue()


def png(size: tuple[int, int] = (320, 200), mode: str = "RGBA") -> bytes:
    buffer = io.BytesIO()
    _picture(size, mode).save(buffer, "PNG")
    return buffer.getvalue()


def webp(size: tuple[int, int] = (320, 200)) -> bytes:
    buffer = io.BytesIO()
    _picture(size).save(buffer, "WEBP", quality=80)
    return buffer.getvalue()


def gif() -> bytes:
    buffer = io.BytesIO()
    _picture((64, 64)).convert("P").save(buffer, "GIF")
    return buffer.getvalue()


def png_bomb(side: int = 60_000) -> bytes:
    """A PNG of a few tens of kilobytes that declares ``side`` × ``side`` pixels (3.6 gigapixels)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)  # 8-bit greyscale
    rows = zlib.compressobj(9)
    data = b"".join(rows.compress(b"\0" * (side + 1)) for _ in range(64)) + rows.flush()
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data) + chunk(b"IEND", b"")


def jpeg_bomb(side: int = 60_000) -> bytes:
    """A small JPEG whose frame header claims ``side`` × ``side`` pixels."""
    real = jpeg_with_gps((16, 16))
    at = real.index(b"\xff\xc0")  # start of frame: length(2) precision(1) height(2) width(2)
    return real[: at + 5] + struct.pack(">HH", side, side) + real[at + 9 :]


def truncated_jpeg() -> bytes:
    data = jpeg_with_gps((800, 600))
    return data[: len(data) // 2]


def html_named_jpeg() -> bytes:
    return b"<html><script>alert(1)</script></html>"


HOSTILE: dict[str, tuple[Callable[[], bytes], int, str]] = {
    "png bomb (3.6 gigapixels)": (png_bomb, 422, "invalid_photo"),
    "jpeg bomb (3.6 gigapixels)": (jpeg_bomb, 422, "invalid_photo"),
    "truncated jpeg": (truncated_jpeg, 422, "invalid_photo"),
    "gif": (gif, 415, "unsupported_photo_type"),
    "html named .jpg": (html_named_jpeg, 415, "unsupported_photo_type"),
    "empty file": (lambda: b"", 415, "unsupported_photo_type"),
}
"""Name → (the bytes, the HTTP status, the error code) of uploads that must be refused."""
