"""``python -m driftline.cli`` is the ``driftline`` command."""

from .main import main

main()
