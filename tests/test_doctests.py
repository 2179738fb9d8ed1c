"""Every docstring example of every driftline module runs, as the installed package sees it.

pytest's own ``--doctest-modules`` would import ``stream/x.py`` as ``stream.x`` from the
checkout, a second copy beside the installed ``driftline.stream.x``; walking the installed
package avoids that.
"""

from __future__ import annotations

import doctest
import importlib
import pkgutil
import tomllib
from pathlib import Path

import pytest

PACKAGES = tomllib.loads((Path(__file__).resolve().parents[1] / "pyproject.toml").read_text())[
    "tool"]["setuptools"]["packages"]


def _modules() -> list[str]:
    # ``driftline`` is a namespace package (no __init__), which pkgutil cannot walk: walk
    # each listed subpackage. A module that cannot be imported fails here, it is not skipped.
    names = set()
    for package in PACKAGES:
        names.add(package)
        module = importlib.import_module(package)
        names.update(m.name for m in pkgutil.iter_modules(module.__path__, package + ".") if not m.ispkg)
    return sorted(n for n in names if not n.endswith("__main__"))


MODULES = _modules()


def test_every_package_is_walked():
    packages = {name.split(".")[1] for name in MODULES}
    assert {"alerting", "cli", "demo", "detectors", "settings", "sinks", "status", "stream"} <= packages


@pytest.mark.parametrize("name", MODULES)
def test_doctests(name):
    module = importlib.import_module(name)
    finder = doctest.DocTestFinder(exclude_empty=True)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    for test in finder.find(module, name):
        runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.failed == 0, f"{result.failed} of {result.attempted} doctest example(s) failed in {name}"
