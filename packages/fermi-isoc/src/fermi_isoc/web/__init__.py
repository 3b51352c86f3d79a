"""The ISOC status page (FastAPI + Jinja2 + vendored htmx)."""
