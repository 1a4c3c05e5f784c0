"""Reports routed to the desk that owns their place, and handled in a closed loop with deadlines.

The rules are data, each read and checked in one module:

* ``catalog.py`` (+ ``catalog.toml``): categories, their owning level or department
  and time limits; ``desks.py`` (+ ``departments.toml``): units and departments as
  desks with their chains; ``calendar.py`` / ``calendar_file.py`` (+ ``calendar.toml``):
  working time; ``metrics.py``: figures; ``ratings.py`` (+ ``ratings.toml``): the
  骏马/黄牛/蜗牛 ratings, the residents' satisfaction weighed in;
* ``workflow.py``: the loop as a table — states, and each action's from-states, roles,
  relation to the case, pending requests and effects.

The engine and the uses, one module per concern, behind :class:`routing.service.ReportService`:
``intake.py`` (check, resolve the point once, route, deduplicate, retries),
``steps.py`` (the engine applying the table, and a step taken in the store),
``effects.py`` (what each action changes), ``deadlines.py`` (the case's clock),
``escalation.py`` (督办), ``queries.py`` and ``views.py`` (scoped reads and the typed
view models the API reuses), ``exports.py`` (frames for metrics and maps),
``public.py`` and ``redact.py`` (the anonymous view without personal data),
``photos.py`` (uploads checked by decoding, re-encoded without metadata),
``outbox.py`` (the events a unit hears of, written with their steps, and its feed),
``webhooks.py`` and ``delivery.py`` (signed webhooks, dead letters, the delivery loop),
``access.py`` (who sees and acts), ``staff.py`` (tokens), ``audit.py`` (the log),
``idempotency.py`` (``Idempotency-Key`` by the book), ``errors.py`` (the domain errors);
``handover.py`` moves open cases and refuses staff tokens of units a boundary release
removed, naming the unit that continues them.
"""
