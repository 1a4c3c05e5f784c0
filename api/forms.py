"""Request bodies that are JSON, or multipart with photos: a new report, a step of the loop.

``POST /v1/reports`` and ``POST /v1/reports/{id}/actions`` take either

* ``application/json``: the fields as one JSON object (no photos), or
* ``multipart/form-data``: the same fields, as one part named ``report`` (or
  ``request``) holding the JSON object or as one form field each, and up to nine
  ``photos`` file parts.

:func:`read_body` validates the fields with the route's pydantic model (a bad field is
the same 422 as for a JSON body) and checks every photo by decoding it
(:meth:`routing.service.ReportService.prepare_photo`, in a worker thread).  The
multipart parser spools file parts to temporary files that are removed when the
body has been read, whatever the outcome; the body as a whole is capped by
:mod:`api.limits` (nine photos of ``SIJI_MAX_PHOTO_BYTES`` and their fields).
"""

from __future__ import annotations

from typing import Any, TypeVar

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException

from api.errors import UNREADABLE_BODY, UnsupportedMediaError
from api.uploads import media_type
from geo.errors import InvalidInputError
from routing.errors import PhotoTooLargeError
from routing.intake import MAX_PHOTOS
from routing.photos import PreparedPhoto
from routing.service import ReportService

Model = TypeVar("Model", bound=BaseModel)

PHOTOS_FIELD = "photos"
JSON_PARTS = ("report", "request")
MAX_FIELD_BYTES = 64 * 1024
"""The largest non-file part (a JSON ``report`` part or one field)."""


def body_schema(model: type[BaseModel], *, photos: bool = True) -> dict[str, Any]:
    """The OpenAPI ``requestBody`` of a route that reads :func:`read_body`."""
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    form = {
        "type": "object",
        "properties": {
            **{name: {"type": "string"} for name in schema.get("properties", {})},
            "report": {
                "type": "string",
                "description": "The fields as one JSON object (instead of one each).",
            },
            **(
                {
                    PHOTOS_FIELD: {
                        "type": "array",
                        "maxItems": MAX_PHOTOS,
                        "items": {"type": "string", "format": "binary"},
                        "description": "JPEG, PNG or WebP images, each within SIJI_MAX_PHOTO_BYTES and "
                        "SIJI_MAX_PHOTO_PIXELS.",
                    }
                }
                if photos
                else {}
            ),
        },
    }
    return {
        "required": True,
        "content": {"application/json": {"schema": schema}, "multipart/form-data": {"schema": form}},
    }


async def read_body(
    request: Request, model: type[Model], service: ReportService, *, photos_allowed: bool = True
) -> tuple[Model, tuple[PreparedPhoto, ...]]:
    """The request's fields, validated by ``model``, and its photos, checked and re-encoded.

    Raises
    ------
    RequestValidationError
        A field the model refuses (422, as FastAPI answers for a JSON body).
    UnsupportedMediaError
        A body that is neither JSON nor multipart (415).
    InvalidInputError, PhotoError, PhotoTooLargeError, PhotoTypeError
        Too many photos, a file part under another name, a photo that is not an
        image, is too large, truncated or a decompression bomb (422, 413, 415).
    """
    kind = media_type(request)
    if kind == "multipart/form-data":
        return await _multipart(request, model, service, photos_allowed)
    if kind not in ("application/json", ""):
        raise UnsupportedMediaError(
            f"Content-Type {kind!r} is not read here; send application/json, or multipart/form-data "
            "with the fields and photos",
            media_type=kind,
            allowed=["application/json", "multipart/form-data"],
        )
    raw = await request.body()
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:  # as FastAPI answers a JSON body it cannot decode (api/errors.py words it)
        raise HTTPException(400, detail=UNREADABLE_BODY) from None
    return _validated(model, raw, json=True), ()


async def _multipart(
    request: Request, model: type[Model], service: ReportService, photos_allowed: bool
) -> tuple[Model, tuple[PreparedPhoto, ...]]:
    form = await request.form(max_files=MAX_PHOTOS + 1, max_fields=200, max_part_size=MAX_FIELD_BYTES)
    try:
        fields: dict[str, Any] = {}
        files: list[UploadFile] = []
        raw: str | None = None
        for name, value in form.multi_items():
            if isinstance(value, UploadFile):
                if name != PHOTOS_FIELD or not photos_allowed:
                    raise InvalidInputError(
                        f"file part {name!r} is not read here; "
                        + (f"send photos as parts named {PHOTOS_FIELD!r}" if photos_allowed else "no files"),
                        field=name,
                    )
                files.append(value)
            elif name in JSON_PARTS:
                raw = value
            elif name in fields:  # a repeated field is a list (photo_urls)
                fields[name] = [*_as_list(fields[name]), value]
            else:
                fields[name] = [value] if _is_list_field(model, name) else value
        if len(files) > MAX_PHOTOS:
            raise InvalidInputError(
                f"{len(files)} photos; at most {MAX_PHOTOS} are allowed", field=PHOTOS_FIELD, count=len(files)
            )
        parsed = (
            _validated(model, raw, json=True) if raw is not None else _validated(model, fields, json=False)
        )
        photos = []
        for number, upload in enumerate(files, 1):
            label = f"photos[{number}] {upload.filename or ''!r}".strip()
            data = await upload.read(service.max_photo_bytes + 1)
            if len(data) > service.max_photo_bytes:
                raise PhotoTooLargeError(
                    f"{label} has more than {service.max_photo_bytes:,} bytes; at most "
                    f"{service.max_photo_bytes:,} are allowed (SIJI_MAX_PHOTO_BYTES)",
                    field=PHOTOS_FIELD,
                    limit_bytes=service.max_photo_bytes,
                )
            photos.append(await run_in_threadpool(service.prepare_photo, data, label))
        return parsed, tuple(photos)
    finally:
        await form.close()


def _validated(model: type[Model], data: Any, *, json: bool) -> Model:
    try:
        if json:
            return model.model_validate_json(data if data else b"")
        return model.model_validate(data)
    except ValidationError as exc:
        errors = [{**error, "loc": ("body", *error.get("loc", ()))} for error in exc.errors()]
        raise RequestValidationError(errors, body=data) from None


def _is_list_field(model: type[BaseModel], name: str) -> bool:
    field = model.model_fields.get(name)
    return field is not None and getattr(field.annotation, "__origin__", None) is list


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]
