"""The status page: a small web UI and JSON API over what the worker stored.

It sits beside the worker: :func:`register_status_pages` adds its routes to a
running worker's Faust web server (``driftline run`` and ``driftline demo`` do);
the worker itself never imports it.
"""

from .pages import register_status_pages

__all__ = ["register_status_pages"]
