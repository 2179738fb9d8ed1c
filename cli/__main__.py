"""``python -m driftline.cli`` is the ``driftline`` command."""

from .entry import run

run()
