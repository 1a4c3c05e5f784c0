"""Request and response schemas of the HTTP API (kept apart from the domain types)."""
