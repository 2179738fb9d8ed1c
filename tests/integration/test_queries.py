"""Every SQL block of docs/queries.md runs and returns rows: on ClickHouse 18.16 and on chdb (current ClickHouse)."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from driftline.sinks.migrations import migrate
from driftline.stream.wiring import build_store

from tests.integration.samples import insert_samples

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "queries.md"
README = ROOT / "README.md"
NOW = datetime.now(UTC).replace(microsecond=0)


def documented_queries(doc: Path = DOC) -> list[tuple[str, str]]:
    """(the ``##`` heading above it, sql) for every ```sql block, in order."""
    text = doc.read_text()
    found = []
    for match in re.finditer(r"^```sql\n(.*?)^```$", text, re.M | re.S):
        heading = re.findall(r"^## (.+)$", text[:match.start()], re.M)[-1]
        found.append((heading, match.group(1).strip()))
    return found


QUERIES = documented_queries()
README_QUERIES = documented_queries(README)
IDS = [f"{i}-{re.sub(r'[^a-z0-9]+', '-', h.lower()).strip('-')}" for i, (h, _) in enumerate(QUERIES)]


def test_the_readme_questions_are_answered():
    headings = {h for h, _ in QUERIES}
    for question in ("Which features drifted for model X this week", "Accuracy by version per day",
                     "Alerts by kind"):
        assert question in headings
    assert len(QUERIES) >= 10


@pytest.fixture(scope="module")
def server_store(clickhouse):
    name = f"queries_{uuid.uuid4().hex[:10]}"
    store = build_store(clickhouse.url.rsplit("/", 1)[0] + f"/{name}")
    migrate(store)
    insert_samples(store, NOW)
    yield store
    store.execute(f"DROP DATABASE IF EXISTS {name}")
    store.close()


@pytest.fixture(scope="module")
def embedded_store(tmp_path_factory):
    store = build_store(f"chdb://{tmp_path_factory.mktemp('queries-chdb')}/store")
    migrate(store)
    insert_samples(store, NOW)
    yield store
    store.close()


@pytest.mark.parametrize(("heading", "sql"), QUERIES, ids=IDS)
def test_query_runs_on_clickhouse_18(server_store, heading, sql):
    rows = server_store.execute(sql)
    assert rows, f"{heading}: no rows from the sample data"


@pytest.mark.parametrize(("heading", "sql"), QUERIES, ids=IDS)
def test_query_runs_on_current_clickhouse(embedded_store, heading, sql):
    rows = embedded_store.execute(sql)
    assert rows, f"{heading}: no rows from the sample data"


@pytest.mark.parametrize("sql", [sql for _, sql in README_QUERIES])
def test_readme_queries_run_on_both_engines(server_store, embedded_store, sql):
    assert len(README_QUERIES) >= 3
    assert server_store.execute(sql), sql
    assert embedded_store.execute(sql), sql


def test_both_engines_agree_on_drifted_features(server_store, embedded_store):
    heading, sql = QUERIES[0]
    assert heading == "Which features drifted for model X this week"
    assert sorted(server_store.execute(sql)) == sorted(embedded_store.execute(sql))
