"""The house rules a machine can check (the shape of the house in the style guide), read with ``ast``.

Nothing here imports driftline: every module of every package listed in pyproject.toml is
parsed, so a module that cannot even be imported is still checked. Each test names the
offending module and line.

* the import graph has no cycles, inside a package too (imports in functions and under
  ``if TYPE_CHECKING:`` are edges like any other; importing ``driftline.x.y`` from outside
  ``driftline.x`` runs ``driftline/x/__init__.py`` first, so that is an edge as well);
* layers: ``detectors`` -> ``settings`` -> ``alerting`` -> ``sinks`` -> ``stream`` ->
  ``cli``/``status``/``demo``, and nothing imports a layer to its right; ``detectors`` uses only
  the standard library, numpy, scipy and river, ``alerting`` only the standard library, and
  ``sinks`` knows nothing of Faust;
* no SQL outside ``sinks``;
* no client (Kafka, ClickHouse, chdb, Prometheus registry, httpx) built outside ``stream/wiring.py``;
* no module over 300 lines unless :data:`LONG_MODULES` names its one concept.
"""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from collections import deque
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MAX_LINES = 300

# Left to right; a package may import its own layer and the layers to its left, never to its right.
LAYERS = {
    "detectors": 0,
    "settings": 1,
    "alerting": 2,
    "sinks": 3,
    "stream": 4,
    "cli": 5,
    "status": 5,
    "demo": 5,
    "report": 5,
}
# Third-party distributions a package may import (None: any).
THIRD_PARTY = {
    "detectors": {"numpy", "scipy", "river"},
    "alerting": set(),
}
FORBIDDEN_THIRD_PARTY = {
    "sinks": {"faust", "mode"},  # mode is Faust's service framework
}

SQL = re.compile(r"\s*(SELECT|INSERT|CREATE|ALTER|DROP|OPTIMIZE)\b", re.IGNORECASE)
SQL_HOME = "driftline.sinks"

# Client classes (by their defining module) that only stream/wiring.py may construct.
CLIENTS = {
    "confluent_kafka.Consumer", "confluent_kafka.Producer", "confluent_kafka.AdminClient",
    "confluent_kafka.admin.AdminClient", "confluent_kafka.cimpl.Consumer", "confluent_kafka.cimpl.Producer",
    "clickhouse_driver.Client", "clickhouse_driver.client.Client",
    "chdb.session.Session", "chdb.Session",
    "prometheus_client.CollectorRegistry", "prometheus_client.registry.CollectorRegistry",
    "httpx.Client", "httpx.AsyncClient",
}
WIRING = "driftline.stream.wiring"
# (module, client) pairs allowed to build a client anyway, each with the reason.
CLIENT_EXCEPTIONS = {
    ("driftline.demo.broker", "confluent_kafka.admin.AdminClient"):
        # The launcher of the throwaway Tansu broker asks its own process whether it is up and
        # creates topics on it. It is not a client of the worker: it has no settings to build one
        # from, the tests and bench start brokers with no worker at all, and routing it through
        # stream/wiring.py would make the broker depend on the whole worker to talk to itself.
        "the embedded broker's readiness probe and topic creation",
}

# Modules allowed over MAX_LINES, each with the one concept that keeps it whole.
LONG_MODULES: dict[str, str] = {
    "driftline.alerting.rules": "the alert-rule language: its vocabulary, its conditions and their parser",
    "driftline.detectors.performance": "one window's performance state per task: update, metrics, merge, snapshot",
    "driftline.demo.broker": "the embedded Tansu broker's lifecycle: start, readiness, restart, topics, stop",
    "driftline.sinks.alerts.delivery": "delivering alerts: the queue, retries with backoff, the delivery record",
    "driftline.stream.monitor": "one model version's event-time windows: feed, close, report",
}


@dataclass(frozen=True)
class Module:
    name: str  # driftline.stream.ingest
    path: Path
    is_package: bool  # an __init__.py

    @property
    def package(self) -> str:
        """The package a relative import starts from."""
        return self.name if self.is_package else self.name.rpartition(".")[0]

    @property
    def layer(self) -> str:
        return self.name.split(".")[1]

    @property
    def relpath(self) -> str:
        return str(self.path.relative_to(ROOT))

    def tree(self) -> ast.Module:
        return _parse(self.path)


@cache
def _parse(path: Path) -> ast.Module:
    return ast.parse(path.read_text(), filename=str(path))


@cache
def modules() -> dict[str, Module]:
    """Every module of every package in pyproject.toml's ``package-dir``, by dotted name."""
    package_dir = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-dir"]
    found: dict[str, Module] = {}
    for package, folder in package_dir.items():
        for path in sorted((ROOT / folder).glob("*.py")):
            is_package = path.stem == "__init__"
            name = package if is_package else f"{package}.{path.stem}"
            found[name] = Module(name, path, is_package)
    return found


@dataclass(frozen=True)
class Import:
    target: str  # absolute dotted name: a module, a package or a name inside one
    line: int


def imports(module: Module) -> list[Import]:
    """Every import statement anywhere in the module (functions and TYPE_CHECKING blocks included)."""
    known = modules()
    found = []
    for node in ast.walk(module.tree()):
        if isinstance(node, ast.Import):
            found += [Import(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = module.package.split(".")
                base = ".".join(parts[:len(parts) - node.level + 1] + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            for alias in node.names:
                # ``from pkg import sub`` imports the module pkg.sub when there is one.
                sub = f"{base}.{alias.name}"
                found.append(Import(sub if sub in known else base, node.lineno))
    return found


def _driftline_module(target: str) -> str | None:
    """The driftline module an import target lands in (``driftline.x.y.Name`` -> ``driftline.x.y``)."""
    known = modules()
    while target and target not in known:
        target = target.rpartition(".")[0]
    return target or None


@cache
def import_graph() -> dict[str, dict[str, int]]:
    """module -> {imported driftline module: line of the first import}."""
    graph: dict[str, dict[str, int]] = {}
    for name, module in modules().items():
        edges = graph.setdefault(name, {})
        for imp in imports(module):
            if not imp.target.startswith("driftline."):
                continue
            target = _driftline_module(imp.target)
            if target is None:
                continue
            # Importing driftline.a.b runs driftline.a's __init__ first, unless we are inside driftline.a.
            parts = target.split(".")
            ancestors = [".".join(parts[:i]) for i in range(2, len(parts))]
            for step in ancestors:
                if step in modules() and not (name == step or name.startswith(step + ".")):
                    edges.setdefault(step, imp.line)
            if target != name:
                edges.setdefault(target, imp.line)
    return graph


def cycles(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """Strongly connected components with more than one module (or a module importing itself)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(start: str) -> None:
        # Iterative Tarjan: the graph is small, but recursion limits are not worth the risk.
        work = [(start, iter(sorted(graph.get(start, {}))))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            for child in children:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, {})))))
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1 or node in graph.get(node, {}):
                        found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(found)


def describe_cycle(graph: dict[str, dict[str, int]], component: list[str]) -> str:
    """A shortest closed path through the component, with the line of each import: where to cut."""
    start, members = component[0], set(component)
    parents: dict[str, str] = {}
    queue = deque([start])
    while queue:
        here = queue.popleft()
        for nxt in sorted(graph[here]):
            if nxt == start:
                path = [here]
                while path[-1] != start:
                    path.append(parents[path[-1]])
                path = [*reversed(path), start]
                steps = " -> ".join(f"{a} (line {graph[a][b]})" for a, b in zip(path, path[1:], strict=False))
                return f"{{{', '.join(component)}}}: {steps} -> {start}"
            if nxt in members and nxt not in parents:
                parents[nxt] = here
                queue.append(nxt)
    raise ValueError(f"{component} is not a cycle of the graph")


def _annotation_nodes(tree: ast.AST) -> set[int]:
    """ids of every node inside a type annotation (naming a class there builds nothing)."""
    roots: list[ast.AST] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.arg) and node.annotation is not None:
            roots.append(node.annotation)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.returns is not None:
            roots.append(node.returns)
        elif isinstance(node, ast.AnnAssign):
            roots.append(node.annotation)
    return {id(sub) for root in roots for sub in ast.walk(root)}


def _aliases(tree: ast.Module) -> dict[str, str]:
    """Local name -> the dotted name it was imported as (``Producer`` -> ``confluent_kafka.Producer``)."""
    names = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                names[alias.asname or alias.name.split(".")[0]] = alias.name if alias.asname else alias.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            for alias in node.names:
                names[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    return names


def _dotted(node: ast.AST, aliases: dict[str, str]) -> str | None:
    if isinstance(node, ast.Name):
        return aliases.get(node.id)
    if isinstance(node, ast.Attribute):
        base = _dotted(node.value, aliases)
        return f"{base}.{node.attr}" if base else None
    return None


def client_references(tree: ast.Module) -> list[tuple[int, str]]:
    """(line, client class) for every use of a client class as a value: a call, a default, a factory.

    A bare reference counts, not only a call: ``factory = client_factory or Client`` builds one too.
    """
    aliases = _aliases(tree)
    skip = _annotation_nodes(tree)
    found = []
    for node in ast.walk(tree):
        if id(node) in skip or not isinstance(node, ast.Name | ast.Attribute) or not isinstance(node.ctx, ast.Load):
            continue
        dotted = _dotted(node, aliases)
        if dotted in CLIENTS:
            found.append((node.lineno, dotted))
    return sorted(set(found))


def _docstrings(tree: ast.Module) -> set[int]:
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                ids.add(id(first.value))
    return ids


def sql_literals(tree: ast.Module) -> list[tuple[int, str]]:
    """(line, start of the string) for every string literal that starts like a SQL statement.

    Docstrings are prose ("Insert every buffered table."), not SQL; an f-string counts by its
    leading text, not by the pieces between its ``{}``.
    """
    skip = _docstrings(tree) | {id(part) for node in ast.walk(tree) if isinstance(node, ast.JoinedStr)
                                for part in node.values}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            head = node.values[0] if node.values else None
            text = head.value if isinstance(head, ast.Constant) and isinstance(head.value, str) else ""
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip:
            text = node.value
        else:
            continue
        if SQL.match(text):
            found.append((node.lineno, " ".join(text.split())[:60]))
    return sorted(set(found))


def line_count(module: Module) -> int:
    return len(module.path.read_text().splitlines())


def layer_violations(layer: str, imported: list[Import]) -> list[Import]:
    """The imports a module of ``layer`` may not make."""
    wrong = []
    for imp in imported:
        parts = imp.target.split(".")
        if parts[0] == "driftline":
            other = parts[1] if len(parts) > 1 else ""
            if LAYERS.get(other, len(LAYERS)) > LAYERS[layer]:
                wrong.append(imp)
        elif parts[0] not in sys.stdlib_module_names:
            allowed = THIRD_PARTY.get(layer)
            if (allowed is not None and parts[0] not in allowed) or parts[0] in FORBIDDEN_THIRD_PARTY.get(layer, ()):
                wrong.append(imp)
    return wrong


# --- the tests ---------------------------------------------------------------------------------


def test_every_package_is_seen_and_has_a_layer():
    names = modules()
    assert {m.layer for m in names.values()} >= {"alerting", "cli", "demo", "detectors", "sinks", "status", "stream"}
    assert {"driftline.sinks.queries.status", "driftline.cli.__main__"} <= set(names)
    assert set(LAYERS) >= {m.layer for m in names.values()}, "give every new package a layer in LAYERS"


def test_cycle_detection_finds_a_cycle_and_its_path():
    graph = {"a": {"b": 1, "x": 9}, "b": {"c": 2}, "c": {"a": 3, "d": 4}, "d": {}, "e": {"e": 5}, "x": {"b": 6}}
    assert cycles(graph) == [["a", "b", "c", "x"], ["e"]]
    assert describe_cycle(graph, ["a", "b", "c", "x"]) == "{a, b, c, x}: a (line 1) -> b (line 2) -> c (line 3) -> a"
    assert describe_cycle(graph, ["e"]) == "{e}: e (line 5) -> e"
    assert cycles({"a": {"b": 1}, "b": {}}) == []


def test_the_import_graph_has_no_cycles():
    graph = import_graph()
    found = [describe_cycle(graph, c) for c in cycles(graph)]
    assert not found, "import cycles:\n" + "\n".join(found)


@pytest.mark.parametrize("layer", sorted(LAYERS))
def test_no_package_imports_a_layer_to_its_right(layer):
    wrong = [f"{module.relpath}:{imp.line} imports {imp.target}"
             for module in modules().values() if module.layer == layer
             for imp in layer_violations(layer, imports(module))]
    assert not wrong, f"{layer} reaches outside its layer:\n" + "\n".join(wrong)


def test_layer_check():
    def flagged(layer: str, *targets: str) -> list[str]:
        return [i.target for i in layer_violations(layer, [Import(t, 1) for t in targets])]

    assert flagged("detectors", "numpy.linalg", "scipy", "river.drift", "json", "driftline.detectors.x") == []
    assert flagged("detectors", "pandas", "driftline.settings", "driftline.alerting.rules") == [
        "pandas", "driftline.settings", "driftline.alerting.rules"]
    assert flagged("alerting", "driftline.detectors.results", "driftline.settings", "re") == []
    assert flagged("alerting", "numpy", "driftline.sinks.store") == ["numpy", "driftline.sinks.store"]
    assert flagged("sinks", "clickhouse_driver", "driftline.alerting", "faust", "mode.utils", "driftline.stream") == [
        "faust", "mode.utils", "driftline.stream"]
    assert flagged("stream", "faust", "driftline.sinks.store", "driftline.cli", "driftline.status",
                   "driftline.demo.broker") == ["driftline.cli", "driftline.status", "driftline.demo.broker"]
    assert flagged("status", "driftline.stream.config", "driftline.demo") == []
    assert flagged("cli", "driftline.newthing") == ["driftline.newthing"]  # a package with no layer yet


def test_no_sql_outside_sinks():
    wrong = [f"{m.relpath}:{line}: {text!r}" for m in modules().values()
             if not (m.name == SQL_HOME or m.name.startswith(SQL_HOME + "."))
             for line, text in sql_literals(m.tree())]
    assert not wrong, "SQL belongs in driftline.sinks:\n" + "\n".join(wrong)


def test_sql_detection():
    tree = ast.parse('"""Select a docstring: not SQL."""\nq = "\\n  select 1"\nf = f"INSERT INTO {t}"\n'
                     's = "Selected"\nd = "drop " + x\nh = "Create the topics"\ng = f"{a} select {b}"\n'
                     'def f():\n    """Drop old rows."""\n    return "OPTIMIZE TABLE t FINAL"\n')
    # The rule is deliberately blunt (any string opening with a statement keyword): prose that
    # starts so is rare and easy to reword, while a missed query would defeat the point.
    assert [line for line, _ in sql_literals(tree)] == [2, 3, 5, 6, 10]


def test_client_detection():
    tree = ast.parse(
        "import httpx\nfrom clickhouse_driver import Client\nfrom confluent_kafka import Producer as P\n"
        "def f(c: Client | None = None, p: P = None) -> httpx.AsyncClient:\n"
        "    factory = c or Client\n"
        "    return httpx.AsyncClient(), P({}), factory()\n")
    assert client_references(tree) == [(5, "clickhouse_driver.Client"), (6, "confluent_kafka.Producer"),
                                       (6, "httpx.AsyncClient")]


def test_imports_resolve_relative_and_package_names():
    status = modules()["driftline.status.pages"]
    targets = {i.target for i in imports(status)}
    assert {"driftline.sinks.errors", "driftline.status.api"} <= targets
    graph = import_graph()
    # driftline.status.pages imports driftline.sinks.errors: driftline/sinks/__init__.py runs first.
    assert {"driftline.sinks", "driftline.sinks.errors"} <= set(graph["driftline.status.pages"])
    # Inside driftline.sinks, importing a sibling does not re-enter the package's __init__.
    assert "driftline.sinks" not in graph["driftline.sinks.migrations"]


def test_clients_are_built_only_in_wiring():
    wrong = []
    for module in modules().values():
        if module.name == WIRING:
            continue
        for line, client in client_references(module.tree()):
            if (module.name, client) not in CLIENT_EXCEPTIONS:
                wrong.append(f"{module.relpath}:{line} builds {client}")
    assert not wrong, f"clients are built in {WIRING} only:\n" + "\n".join(wrong)


def test_client_exceptions_are_still_needed():
    for (name, client), reason in CLIENT_EXCEPTIONS.items():
        assert reason
        assert client in {c for _, c in client_references(modules()[name].tree())}, f"{name} no longer builds {client}"


def test_modules_stay_small():
    long = {m.name: line_count(m) for m in modules().values() if line_count(m) > MAX_LINES}
    wrong = [f"{modules()[n].relpath}: {lines} lines" for n, lines in sorted(long.items()) if n not in LONG_MODULES]
    assert not wrong, (f"modules over {MAX_LINES} lines (split them by concept, or name their one concept "
                       "in LONG_MODULES):\n" + "\n".join(wrong))


def test_the_long_module_allowlist_is_current():
    for name, concept in LONG_MODULES.items():
        assert concept and name in modules(), f"{name} is not a driftline module"
        assert line_count(modules()[name]) > MAX_LINES, f"{name} is short now: remove it from LONG_MODULES"
