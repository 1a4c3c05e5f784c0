"""The siji HTTP service (FastAPI): jurisdiction lookups, units and generations."""
