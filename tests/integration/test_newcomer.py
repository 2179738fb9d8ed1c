"""A newcomer follows the README's "Running against your Kafka and ClickHouse" word for word (issue 18).

The config, every ``driftline`` command and the producer snippet are read from README.md itself and run
as written in an empty directory, with only the addresses (broker, ClickHouse), the database name and
the metrics port replaced by this test's. A made-up model ``loan`` has two numeric features, one
categorical and one boolean; its predictions are ``amount > 10`` for labels ``amount + noise > 10``.
The reference comes from ``driftline baseline`` on a CSV; the events from ``driftline replay`` (nine
minutes of event time, the last four with ``amount`` moved near the decision boundary, where the
model errs) and from the README's snippet. Asserted: no drift on identical data, drift on ``amount``
once it shifts, alerts that name the likely cause (a covariate shift, not concept drift), the
status API showing the reference in use, and no secret in any output.
"""

from __future__ import annotations

import json
import math
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import httpx
import numpy as np
import pytest
from driftline.demo import EmbeddedBroker

from tests.support.servers import WebhookReceiver, free_port
from tests.support.waiting import wait_until

pytestmark = pytest.mark.integration

README = Path(__file__).resolve().parents[2] / "README.md"
SECRET_PATH = "/hooks/T0NEWCOMER-7c1d/B0SECRET-4e2f"
SECRETS = {"OPS_WEBHOOK_SECRET": "hook-s3cret-9a8b"}
WINDOW_MS = 60_000  # the default window a newcomer gets
PER_WINDOW = 1000
CALM, SHIFTED = 5, 4  # windows of identical data, then windows with `amount` shifted


def section(title: str) -> str:
    text = README.read_text()
    start = text.index(title)
    end = text.find("\n## ", start + len(title))
    return text[start:end if end > 0 else None]


def blocks(text: str, language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", text, flags=re.DOTALL)


def replaced(text: str, old: str, new: str) -> str:
    assert text.count(old) == 1, f"the README's config should hold {old!r} once"
    return text.replace(old, new)


def driftline() -> list[str]:
    found = shutil.which("driftline", path=str(Path(sys.executable).parent))
    return [found] if found else [sys.executable, "-m", "driftline.cli"]


def rows(n: int, seed: int, *, shifted: bool = False) -> list[dict]:
    """The model's inputs and outputs; ``shifted`` puts ``amount`` near the boundary, where errors are."""
    rng = np.random.default_rng(seed)
    amount = rng.normal(10, 0.3 if shifted else 2, n)
    income = rng.normal(50_000, 10_000, n)
    purpose = rng.choice(["car", "home", "education"], n, p=[0.5, 0.3, 0.2])
    cosigner = rng.random(n) < 0.3
    label = (amount + rng.normal(0, 0.6, n) > 10).astype(int)
    return [{"amount": round(float(a), 3), "income": round(float(i), 1), "purpose": str(p), "has_cosigner": bool(c),
             "prediction": int(a > 10), "score": round(1 / (1 + math.exp(-2 * (a - 10))), 4), "label": int(y)}
            for a, i, p, c, y in zip(amount, income, purpose, cosigner, label, strict=True)]


def rfc3339(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def write_data(directory: Path, start_ms: int) -> None:
    """reference.csv as step 4 shows it; events.jsonl as step 7 shows it (labels as feedback lines)."""
    reference = rows(3000, seed=1)
    lines = ["amount,income,purpose,has_cosigner,prediction,score"]
    lines += [f"{r['amount']},{r['income']},{r['purpose']},{str(r['has_cosigner']).lower()},{r['prediction']},"
              f"{r['score']}" for r in reference]
    (directory / "reference.csv").write_text("\n".join(lines) + "\n")
    events = rows(CALM * PER_WINDOW, seed=2) + rows(SHIFTED * PER_WINDOW, seed=3, shifted=True)
    with (directory / "events.jsonl").open("w") as out:
        for i, r in enumerate(events):
            ts = rfc3339(start_ms + i * WINDOW_MS // PER_WINDOW)
            features = {k: r[k] for k in ("amount", "income", "purpose", "has_cosigner")}
            out.write(json.dumps({"event_id": f"e{i}", "model": "loan", "version": "v1", "ts": ts,
                                  "features": features, "prediction": r["prediction"], "score": r["score"]}) + "\n")
            out.write(json.dumps({"event_id": f"e{i}", "model": "loan", "ts": ts, "label": r["label"]}) + "\n")


def leaks(text: str, webhook_url: str) -> list[str]:
    secret_parts = ["T0NEWCOMER-7c1d", "B0SECRET-4e2f", "k3y-5a6b", SECRETS["OPS_WEBHOOK_SECRET"], webhook_url]
    return [part for part in secret_parts if part in text]


def test_a_newcomer_follows_the_readme_to_a_monitored_model(clickhouse, tmp_path):
    run_id = uuid.uuid4().hex[:8]
    steps = section("## Running against your Kafka and ClickHouse")
    home = tmp_path / "newcomer"
    home.mkdir()  # an empty directory
    port = free_port()
    with EmbeddedBroker(log_dir=tmp_path / "broker") as broker, \
            WebhookReceiver(path=SECRET_PATH) as hook:
        webhook_url = f"{hook.url}?key=k3y-5a6b"
        env = {**{k: v for k, v in os.environ.items() if k not in ("SLACK_WEBHOOK_URL", "CLICKHOUSE_PASSWORD")},
               **SECRETS, "OPS_WEBHOOK_URL": webhook_url}
        # Step 2: the config, as written, with this test's addresses.
        config = blocks(steps, "yaml")[0]
        config = replaced(config, '"kafka:9092"', f'"{broker.bootstrap_servers}"')
        config = replaced(config, "@clickhouse:9000/driftline", f"@127.0.0.1:{clickhouse.tcp_port}/newcomer_{run_id}")
        config = replaced(config, "port: 9108", f"port: {port}")
        (home / "driftline.yaml").write_text(config)
        start_ms = (int(time.time() * 1000) // WINDOW_MS - CALM - SHIFTED - 3) * WINDOW_MS
        write_data(home, start_ms)

        commands = [shlex.split(line.split(" #")[0]) for block in blocks(steps, "bash")
                    for line in block.splitlines() if line.strip() and not line.lstrip().startswith("#")]
        assert [c[:2] for c in commands] == [["driftline", "topics"], ["driftline", "baseline"],
                                             ["driftline", "check-config"], ["driftline", "migrate"],
                                             ["driftline", "run"], ["driftline", "replay"]]
        outputs: dict[str, str] = {}
        worker = None
        log_path = tmp_path / "worker.log"
        try:
            for command in commands:
                argv = driftline() + command[1:]
                if command[1] == "run":
                    with log_path.open("wb") as log:
                        worker = subprocess.Popen(argv, cwd=home, env=env, stdout=log, stderr=subprocess.STDOUT)
                    wait_until(lambda: httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5).status_code == 200,
                               120, "the worker ready", process=worker, log=log_path, retry_on=(httpx.HTTPError,))
                    continue
                done = subprocess.run(argv, cwd=home, env=env, capture_output=True, text=True, timeout=120)
                assert done.returncode == 0, f"{shlex.join(command)}:\n{done.stdout}\n{done.stderr}"
                outputs[command[1]] = done.stdout + done.stderr

            # What each step said.
            assert [line.split()[:2] for line in outputs["topics"].splitlines()[:5]] == [
                ["created", name] for name in ("driftline.predictions", "driftline.feedback", "driftline.alerts",
                                               "driftline.dead-letter", "driftline-app-__assignor-__leader")]
            assert "READ on groups driftline, driftline-app" in outputs["topics"]
            assert ("has_cosigner (boolean), prediction (categorical), score (numeric)" in outputs["baseline"])
            assert outputs["check-config"].splitlines() == [
                "driftline.yaml: ok (1 model(s), 1 alert channel(s))",
                "note: alerts.channels[1] (slack) is off: its url '${SLACK_WEBHOOK_URL:-}' is empty"]
            assert outputs["replay"].startswith(f"sent {(CALM + SHIFTED) * PER_WINDOW} prediction(s) to "
                                                f"driftline.predictions and {(CALM + SHIFTED) * PER_WINDOW} label(s)")

            # Live events with the README's snippet (wall-clock ts), after the replayed history.
            snippet = blocks(section("### Sending events from an application"), "python")[0]
            namespace: dict = {}
            exec(replaced(snippet, '"kafka:9092"', f'"{broker.bootstrap_servers}"'), namespace)  # noqa: S102
            for r in rows(100, seed=4):
                features = {k: r[k] for k in ("amount", "income", "purpose", "has_cosigner")}
                event_id = namespace["log_prediction"]("loan", "v1", features, r["prediction"], r["score"], 12.5)
                namespace["log_label"]("loan", event_id, r["label"])
            assert namespace["producer"].flush(30) == 0

            # The worker found the shift, said its cause, and nothing else.
            client = clickhouse.client(database=f"newcomer_{run_id}")

            def alerts_in() -> list[dict]:
                return [r.json() for r in hook.requests]

            wait_until(lambda: any(a["kind"] == "covariate_shift" for a in alerts_in())
                       and client.execute("SELECT count() FROM drift_results FINAL WHERE window_start >= "
                                          f"toDateTime({(start_ms + (CALM + SHIFTED - 1) * WINDOW_MS) // 1000})")[0][0],
                       120, "the shifted windows' drift results and a covariate-shift alert",
                       process=worker, log=log_path)
            shift_s = (start_ms + CALM * WINDOW_MS) // 1000
            drifted = client.execute(
                "SELECT feature, toUnixTimestamp(window_start) >= %(shift)s AS later, uniqExactIf(window_start, drifted = 1), "
                "uniqExact(window_start) "
                "FROM drift_results FINAL WHERE model = 'loan' AND test NOT LIKE '%%_stream' "
                "AND toUnixTimestamp(window_start) < %(end)s GROUP BY feature, later ORDER BY feature, later",
                {"shift": shift_s, "end": shift_s + SHIFTED * WINDOW_MS // 1000})
            calm = {f: (hits, n) for f, later, hits, n in drifted if not later}
            after = {f: (hits, n) for f, later, hits, n in drifted if later}
            assert set(calm) >= {"amount", "income", "purpose", "has_cosigner", "prediction", "score"}
            assert all(hits == 0 and n == CALM for hits, n in calm.values()), calm  # identical data: no drift
            assert after["amount"] == (SHIFTED, SHIFTED)  # one feature shifts: it drifts, every window
            assert all(after[f][0] == 0 for f in ("income", "purpose", "has_cosigner")), after

            firing = [a for a in alerts_in() if a["status"] == "firing"]
            data = next(a for a in firing if a["kind"] == "data_drift")
            assert {f["name"] for f in data["features"]} == {"amount"}  # one entry per drifted test of it
            shift = next(a for a in firing if a["kind"] == "covariate_shift")
            assert "error rate changed with drift in `amount`" in shift["summary"], shift["summary"]
            assert (shift["action"], shift["evidence"]["cause"]) == ("notify", "covariate")
            assert not [a for a in firing if a["kind"] == "concept_drift"]  # not mistaken for concept drift

            stored = client.execute("SELECT count() FROM predictions FINAL WHERE model = 'loan'")[0][0]
            assert stored == (CALM + SHIFTED) * PER_WINDOW + 100  # the snippet's events too

            models = httpx.get(f"http://127.0.0.1:{port}/api/models", timeout=10).json()["models"]
            (loan,) = models
            assert loan["reference"]["source"] == "profile"
            (version,) = loan["versions"]
            assert [(r["source"], len(r["digest"]), r["replaced"]) for r in version["references"]] == [
                ("profile", 12, None)]
        finally:
            if worker is not None:
                worker.terminate()
                try:
                    worker.wait(40)
                except subprocess.TimeoutExpired:
                    worker.kill()
                    worker.wait()
        log = log_path.read_text(errors="replace")
        print(log[-3000:])
        assert worker.returncode in (0, -15), f"the worker exited with {worker.returncode}"
        assert "alerts.channels[1] (slack) is off" in log
        assert "HTTP Request: POST http://127.0.0.1:" in log  # the request lines are there, cut to the host
        assert leaks(log + "".join(outputs.values()), webhook_url) == []
        assert hook.requests and all(r.path.startswith(SECRET_PATH) for r in hook.requests)
