"""The siji HTTP service (FastAPI): the front page and offline API docs, lookups, units and
generations, reports and their loop, photos, the event feed and webhooks, Open311 GeoReport v2,
metrics, the audit log and planner maps.

``app.py`` builds the app (``create_app(settings)``; the engine, migrations and the
report service are made, and the delivery loop started, in the lifespan), ``settings.py`` reads ``SIJI_*``,
``routes/`` holds one router per resource, ``schemas/`` the request and response
models (report answers reuse :mod:`routing.views`), ``errors.py`` the one table from
domain error to HTTP status, ``auth.py`` who is calling, ``deps.py`` the dependency
aliases, ``limits.py`` body caps, ``ratelimit.py`` rate limits counted by
``rate_counters.py`` (in each worker's memory, ``window_counter.py``, or in Redis),
``uploads.py`` streamed uploads, ``forms.py`` report and step bodies as JSON or
multipart with photos, ``plain_routes.py`` the plain ASGI fast path
of ``GET /v1/lookup`` and ``/healthz``, ``open311_format.py`` GeoReport v2's JSON and XML,
``docs.py`` Swagger UI and ReDoc served offline, ``security_headers.py`` the headers and
Content-Security-Policy of every answer, ``head.py`` ``HEAD`` wherever ``GET`` is served;
``routes/home.py`` is the front page.
"""
