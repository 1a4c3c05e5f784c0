"""Photos of a case: an upload checked by decoding it, re-encoded without metadata, with a thumbnail.

A resident's photo at intake (``report``) and a handler's after-photo with the
``handle`` step (``handled``, 处置后照片) go through :func:`prepare`, which trusts
nothing the client says about the file:

* the bytes are decoded with Pillow as JPEG, PNG or WebP only (anything else, a
  declared type included, is refused with :class:`~routing.errors.PhotoTypeError`,
  HTTP 415), after the size cap (:class:`~routing.errors.PhotoTooLargeError`, 413);
* the pixel count the header declares is checked *before* any pixel is decoded, so a
  decompression bomb (a small file declaring gigapixels) costs nothing
  (:class:`~routing.errors.PhotoError`, 422, as is a truncated or corrupt file);
* the image is re-encoded from its pixels (turned upright by its EXIF orientation,
  at most :data:`MAX_EDGE` pixels on the long side): EXIF, XMP, comments and colour
  profiles are gone, so neither the phone's serial number nor the place of the
  resident's home reaches a reader; the photo's own GPS position, if its EXIF had
  one, is kept apart as a field for staff (:attr:`PreparedPhoto.gps`);
* a JPEG thumbnail of at most :data:`THUMBNAIL_EDGE` pixels is made.

Nothing is written here: the stored files are the business of :mod:`store.media`,
the rows of the step or intake that attaches them.

Memory: a photo at the default pixel cap (50 megapixels, 7,000 × 7,000) took, to
check and re-encode, 0.16 s and 85 MiB as a JPEG (decoded at half scale, the long side
staying above 2,048 pixels), 1.4 s and 363 MiB as a PNG and 1.9 s and 755 MiB as a WebP
(libwebp decodes into a buffer that Pillow then copies; measured on this project's
build machine, peak RSS over the interpreter's).  At most :data:`CONCURRENT_DECODES`
photos are decoded at a time in a process, so a burst of uploads cannot add these up.
"""

from __future__ import annotations

import hashlib
import io
import math
import threading
import uuid
import warnings
from dataclasses import dataclass
from typing import Any

from routing.errors import PhotoError, PhotoTooLargeError, PhotoTypeError

FORMATS: dict[str, tuple[str, str]] = {
    "JPEG": ("image/jpeg", "jpg"),
    "PNG": ("image/png", "png"),
    "WEBP": ("image/webp", "webp"),
}
"""Formats accepted (Pillow's names) → media type and file suffix of the stored photo."""
MAX_EDGE = 4096
"""Pixels on the long side of a stored photo (a larger one is scaled down)."""
THUMBNAIL_EDGE = 320
"""Pixels on the long side of a thumbnail (always JPEG)."""
JPEG_QUALITY = 85
CONCURRENT_DECODES = 2
"""Photos decoded at once in one process (the rest wait): bounds the memory of a burst."""
_DECODING = threading.BoundedSemaphore(CONCURRENT_DECODES)
_GPS_IFD = 0x8825
_ORIENTATION = 0x0112


def _transpositions() -> dict[int, Any]:
    from PIL import Image

    t = Image.Transpose
    return {
        2: t.FLIP_LEFT_RIGHT, 3: t.ROTATE_180, 4: t.FLIP_TOP_BOTTOM, 5: t.TRANSPOSE, 6: t.ROTATE_270,
        7: t.TRANSVERSE, 8: t.ROTATE_90,
    }  # fmt: skip


_TRANSPOSE = _transpositions()
"""EXIF orientation → the transposition that makes the picture upright (as ``ImageOps.exif_transpose``)."""


@dataclass(frozen=True, slots=True)
class PreparedPhoto:
    """A photo ready to be stored: its bytes and thumbnail, what it shows, and where it was taken.

    ``name`` is the storage key (random, never derived from the upload).
    """

    name: str
    media_type: str
    suffix: str
    width: int
    height: int
    data: bytes
    thumbnail: bytes
    sha256: str
    upload_sha256: str
    gps_lon: float | None = None
    gps_lat: float | None = None

    @property
    def gps(self) -> tuple[float, float] | None:
        """The position the photo's EXIF recorded (WGS84 lon, lat), or None."""
        if self.gps_lon is None or self.gps_lat is None:
            return None
        return (self.gps_lon, self.gps_lat)


def prepare(data: bytes, *, max_bytes: int, max_pixels: int, label: str = "photo") -> PreparedPhoto:
    """Check an uploaded image by decoding it and re-encode it without metadata.

    Parameters
    ----------
    data : bytes
        The upload, as received.
    max_bytes, max_pixels : int
        Caps on the upload's size and on its width × height.
    label : str
        How errors name the upload (``photos[2] 'IMG_0001.jpg'``).

    Raises
    ------
    PhotoTooLargeError
        More than ``max_bytes`` (413).
    PhotoTypeError
        Not a JPEG, PNG or WebP image (415).
    PhotoError
        More than ``max_pixels`` pixels (a decompression bomb), truncated or corrupt (422).

    Examples
    --------
    >>> from PIL import Image
    >>> buffer = io.BytesIO()
    >>> Image.new("RGB", (800, 600), "green").save(buffer, "PNG")
    >>> photo = prepare(buffer.getvalue(), max_bytes=1 << 20, max_pixels=10_000_000)
    >>> photo.media_type, photo.width, photo.height, photo.gps
    ('image/png', 800, 600, None)
    >>> prepare(b"GIF89a...", max_bytes=1 << 20, max_pixels=10_000_000)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    routing.errors.PhotoTypeError: photo is not a JPEG, PNG or WebP image ...
    """
    if len(data) > max_bytes:
        raise PhotoTooLargeError(
            f"{label} has {len(data):,} bytes; at most {max_bytes:,} are allowed (SIJI_MAX_PHOTO_BYTES)",
            field="photos",
            bytes=len(data),
            limit_bytes=max_bytes,
        )
    with _DECODING:
        return _decoded(data, max_pixels, label)


def _decoded(data: bytes, max_pixels: int, label: str) -> PreparedPhoto:
    from PIL import Image, UnidentifiedImageError

    try:
        image = Image.open(io.BytesIO(data), formats=list(FORMATS))
    except UnidentifiedImageError:
        raise PhotoTypeError(
            f"{label} is not a JPEG, PNG or WebP image (its bytes start {data[:8]!r}); "
            "allowed: image/jpeg, image/png, image/webp",
            field="photos",
            allowed=[media for media, _ in FORMATS.values()],
        ) from None
    except Image.DecompressionBombError as exc:  # Pillow's own cap, far above ours, saw it first
        raise PhotoError(
            f"{label} declares more pixels than allowed (at most {max_pixels:,}, SIJI_MAX_PHOTO_PIXELS): a "
            f"decompression bomb or an oversized picture ({exc})",
            field="photos",
            limit_pixels=max_pixels,
        ) from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise PhotoError(f"{label} cannot be read as an image: {exc}", field="photos") from None
    with image:
        width, height = image.size
        if width < 1 or height < 1 or width * height > max_pixels:
            raise PhotoError(
                f"{label} declares {width:,} × {height:,} pixels; at most {max_pixels:,} pixels are "
                "allowed (SIJI_MAX_PHOTO_PIXELS): a decompression bomb or an oversized picture",
                field="photos",
                width=width,
                height=height,
                limit_pixels=max_pixels,
            )
        fmt = str(image.format)
        media_type, suffix = FORMATS[fmt]
        gps = _gps(image)
        orientation = _orientation(image)
        if fmt == "JPEG" and max(width, height) > MAX_EDGE:
            # decode at 1/2, 1/4 or 1/8 scale while that still leaves half the longest edge kept
            scale = MAX_EDGE / max(width, height) / 2
            image.draft("RGB", (math.ceil(width * scale), math.ceil(height * scale)))
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                image.load()
        except (OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError,
                Image.DecompressionBombWarning) as exc:  # fmt: skip
            raise PhotoError(
                f"{label} is truncated or corrupt: {exc}; send the whole file", field="photos"
            ) from None
        # Each step below replaces the pixels instead of keeping a copy beside them: at the
        # pixel cap a copy is 150 MB (RGB) to 200 MB (RGBA).
        pixels = _normalized(image, fmt)
        pixels.thumbnail((MAX_EDGE, MAX_EDGE))
        if orientation in _TRANSPOSE:
            pixels = pixels.transpose(_TRANSPOSE[orientation])
    encoded = _encode(pixels, fmt)
    size = _fit(pixels.size, THUMBNAIL_EDGE)
    thumbnail = _encode(_flattened(pixels.resize(size, Image.Resampling.LANCZOS, reducing_gap=2.0)), "JPEG")
    return PreparedPhoto(
        name=uuid.uuid4().hex,
        media_type=media_type,
        suffix=suffix,
        width=pixels.width,
        height=pixels.height,
        data=encoded,
        thumbnail=thumbnail,
        sha256=hashlib.sha256(encoded).hexdigest(),
        upload_sha256=hashlib.sha256(data).hexdigest(),
        gps_lon=None if gps is None else gps[0],
        gps_lat=None if gps is None else gps[1],
    )


def _normalized(image: Any, fmt: str) -> Any:
    """Pixels in a mode the format writes (CMYK and 16-bit images made RGB, palettes expanded);
    the image itself when it is in one already."""
    grey = image.mode in ("L", "1", "I;16", "I")
    if fmt != "JPEG" and (
        image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info)
    ):
        wanted = "RGBA"
    else:
        wanted = "L" if grey else "RGB"
    return image if image.mode == wanted else image.convert(wanted)


def _fit(size: tuple[int, int], edge: int) -> tuple[int, int]:
    """``size`` scaled to at most ``edge`` pixels on its long side (never up).

    Examples
    --------
    >>> _fit((4000, 3000), 320), _fit((100, 50), 320)
    ((320, 240), (100, 50))
    """
    width, height = size
    scale = min(1.0, edge / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


def _orientation(image: Any) -> int:
    """The EXIF orientation (1: upright), read before the pixels are decoded."""
    try:
        return int(image.getexif().get(_ORIENTATION, 1))
    except Exception:  # a broken EXIF block: upright
        return 1


def _flattened(image: Any) -> Any:
    """An RGB copy for JPEG: transparent parts on white."""
    if image.mode == "RGBA":
        from PIL import Image

        background = Image.new("RGB", image.size, "white")
        background.paste(image, mask=image.getchannel("A"))
        return background
    return image.convert("RGB") if image.mode != "L" else image


def _encode(image: Any, fmt: str) -> bytes:
    """Re-encode ``image`` with no metadata at all (no EXIF, XMP, ICC profile or comment)."""
    buffer = io.BytesIO()
    if fmt == "JPEG":
        image.save(buffer, "JPEG", quality=JPEG_QUALITY, optimize=True)
    elif fmt == "WEBP":
        image.save(buffer, "WEBP", quality=JPEG_QUALITY)
    else:
        image.save(buffer, "PNG", optimize=True)
    return buffer.getvalue()


def _gps(image: Any) -> tuple[float, float] | None:
    """The (lon, lat) of the EXIF GPS tags, if present and sane; None otherwise."""
    try:
        tags = image.getexif().get_ifd(_GPS_IFD)
    except Exception:  # a broken EXIF block: no position, the photo itself is still checked
        return None
    try:
        lat = _degrees(tags[2], tags.get(1, "N"), "S")
        lon = _degrees(tags[4], tags.get(3, "E"), "W")
    except (KeyError, TypeError, ValueError, ZeroDivisionError, IndexError):
        return None
    if not (math.isfinite(lon) and math.isfinite(lat) and -180 <= lon <= 180 and -90 <= lat <= 90):
        return None
    if lon == 0 and lat == 0:  # cameras without a fix write zeros
        return None
    return (round(lon, 7), round(lat, 7))


def _degrees(value: Any, ref: Any, negative: str) -> float:
    degrees, minutes, seconds = (float(part) for part in value)
    sign = -1.0 if str(ref).strip().upper().startswith(negative) else 1.0
    return sign * (degrees + minutes / 60 + seconds / 3600)
