"""Photos checked by decoding, re-encoded without metadata, with the EXIF position kept apart."""

from __future__ import annotations

import io
import time

import pytest
from PIL import Image

from routing.errors import PhotoError, PhotoTooLargeError, PhotoTypeError
from routing.photos import MAX_EDGE, THUMBNAIL_EDGE, prepare
from tests.images import HOSTILE, SECRET_MAKER_NOTE, TAIAN_GPS, jpeg_with_gps, png, webp

CAPS = {"max_bytes": 15 << 20, "max_pixels": 50_000_000}


@pytest.mark.parametrize(
    ("make", "media_type", "size"),
    [
        (jpeg_with_gps, "image/jpeg", (640, 480)),
        (png, "image/png", (320, 200)),
        (webp, "image/webp", (320, 200)),
    ],
)
def test_good_photos_are_re_encoded_in_their_format(make, media_type, size) -> None:  # type: ignore[no-untyped-def]
    photo = prepare(make(), **CAPS)
    assert (photo.media_type, (photo.width, photo.height)) == (media_type, size)
    with Image.open(io.BytesIO(photo.data)) as image:
        assert image.format == media_type.split("/")[1].upper()
        assert image.size == size
    with Image.open(io.BytesIO(photo.thumbnail)) as thumb:
        assert thumb.format == "JPEG"
        assert max(thumb.size) <= THUMBNAIL_EDGE


def test_metadata_is_stripped_and_the_gps_position_kept_as_a_field() -> None:
    upload = jpeg_with_gps()
    assert SECRET_MAKER_NOTE.encode() in upload
    photo = prepare(upload, **CAPS)
    assert photo.gps == TAIAN_GPS
    for data in (photo.data, photo.thumbnail):
        assert SECRET_MAKER_NOTE.encode() not in data
        assert "王小明".encode() not in data
        with Image.open(io.BytesIO(data)) as image:
            assert not image.getexif()
            assert "icc_profile" not in image.info
            assert "xmp" not in image.info


def test_the_exif_orientation_is_applied_before_it_is_dropped() -> None:
    photo = prepare(jpeg_with_gps((640, 480), orientation=6), **CAPS)  # "rotate 90° clockwise"
    assert (photo.width, photo.height) == (480, 640)


@pytest.mark.parametrize(("fmt", "size"), [("PNG", (MAX_EDGE, 1024)), ("JPEG", (4000, 1000))])
def test_a_large_photo_is_scaled_down_to_the_longest_edge(fmt: str, size: tuple[int, int]) -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (8000, 2000), "gray").save(buffer, fmt)
    photo = prepare(buffer.getvalue(), **CAPS)
    assert (photo.width, photo.height) == size  # a JPEG is decoded at half scale: 4,000 is enough


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_uploads_are_refused_fast_and_clearly(name: str) -> None:
    make, status, code = HOSTILE[name]
    data = make()
    started = time.perf_counter()
    with pytest.raises(PhotoError) as info:
        prepare(data, **CAPS, label="photos[1] 'x.jpg'")
    assert time.perf_counter() - started < 2  # a bomb is refused by its header, never decoded
    assert info.value.code == code
    assert info.value.message.startswith("photos[1] 'x.jpg' ")
    assert isinstance(info.value, PhotoTypeError) == (status == 415)


def test_the_byte_and_pixel_caps_are_named() -> None:
    with pytest.raises(
        PhotoTooLargeError, match=r"has [\d,]+ bytes; at most 1,024 are allowed \(SIJI_MAX_PHOTO_BYTES\)"
    ):
        prepare(jpeg_with_gps(), max_bytes=1024, max_pixels=50_000_000)
    with pytest.raises(PhotoError, match=r"declares 640 × 480 pixels; at most 100,000 pixels are allowed"):
        prepare(jpeg_with_gps(), max_bytes=15 << 20, max_pixels=100_000)
