"""The siji HTTP service (FastAPI): lookups, units and generations, reports and their loop,
photos, the event feed and webhooks, Open311 GeoReport v2, metrics, the audit log and
planner maps.

``app.py`` builds the app (``create_app(settings)``; the engine, migrations and the
report service are made, and the delivery loop started, in the lifespan), ``settings.py`` reads ``SIJI_*``,
``routes/`` holds one router per resource, ``schemas/`` the request and response
models (report answers reuse :mod:`routing.views`), ``errors.py`` the one table from
domain error to HTTP status, ``auth.py`` who is calling, ``deps.py`` the dependency
aliases, ``limits.py``, ``ratelimit.py`` and ``window_counter.py`` body caps and rate
limits, ``uploads.py`` streamed uploads, ``forms.py`` report and step bodies as JSON or
multipart with photos, ``plain_routes.py`` the plain ASGI fast path
of ``GET /v1/lookup`` and ``/healthz``, ``open311_format.py`` GeoReport v2's JSON and XML.
"""
