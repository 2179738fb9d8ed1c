"""One driftline worker in its own process, for the RSS and two-worker measurements.

``python -m bench.child SETTINGS_JSON OUT_JSONL STOP_FILE`` starts the real
``Runtime`` (with a fresh ``CollectorRegistry``) and, every 0.5 s until
``STOP_FILE`` exists, appends one JSON line to ``OUT_JSONL``: wall time, messages
consumed, the process's CPU seconds, ``VmRSS``/``VmHWM`` from ``/proc/self/status``, the label join's
pending entries and the bytes its tables hold, the null fits its configured references hold
(``threshold: auto``), and the wall time (and CPU seconds) at the first consumed batch.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from pathlib import Path

from driftline.settings import parse_settings
from driftline.stream.app import Runtime
from prometheus_client import CollectorRegistry

from .stages import StageTimer, patch_wiring


def memory_kb() -> dict[str, int]:
    out = {}
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith(("VmRSS:", "VmHWM:")):
                key, value = line.split(":", 1)
                out[key] = int(value.split()[0])
    return out


class _Counter:
    def __init__(self) -> None:
        self.messages = 0
        self.first_batch: float | None = None
        self.first_batch_cpu: float | None = None

    def on_batch(self, batch: list) -> None:
        if self.first_batch is None:
            self.first_batch = time.time()
            self.first_batch_cpu = time.process_time()
        self.messages += len(batch)


async def main(raw: dict, out: Path, stop: Path) -> None:
    counter = _Counter()
    patch_wiring(StageTimer(), counter.on_batch, lambda table, rows: None)
    runtime = Runtime(parse_settings(raw), registry=CollectorRegistry())
    await runtime.start()
    try:
        with out.open("a", encoding="utf-8") as fh:
            while not stop.exists():
                if not runtime.loop_thread.is_alive():
                    raise SystemExit("the ingest loop died")
                states = list(runtime.ingest.states.values()) if runtime.ingest else []
                pending = sum(s.join.pending[0] + s.join.pending[1] for s in states)
                join_bytes = sum(s.join.nbytes for s in states)
                references = runtime.ingest.processor.references if runtime.ingest else {}
                fits = sum(len(r.calibration) for r in references.values())
                fh.write(json.dumps({"t": time.time(), "messages": counter.messages, "first_batch": counter.first_batch,
                                     "cpu_s": time.process_time(), "first_batch_cpu": counter.first_batch_cpu,
                                     "partitions": sorted(runtime.ingest.states) if runtime.ingest else [],
                                     "join_pending": pending, "join_bytes": join_bytes,
                                     "calibration_fits": fits, **memory_kb()}) + "\n")
                fh.flush()
                await asyncio.sleep(0.5)
    finally:
        await runtime.stop()
        producer = runtime.ingest.producer if runtime.ingest else None
        if producer is not None:
            producer.flush(5)
            producer.purge()


if __name__ == "__main__":
    settings_json, out_path, stop_path = sys.argv[1:4]
    asyncio.run(main(json.loads(Path(settings_json).read_text()), Path(out_path), Path(stop_path)))
    sys.stdout.flush()
    os._exit(0)  # skip interpreter teardown: librdkafka handles are released by the OS


class ChildWorker:
    """Parent side: start ``python -m bench.child`` and read its samples."""

    def __init__(self, raw_settings: dict, workdir: Path, name: str) -> None:
        import subprocess

        workdir.mkdir(parents=True, exist_ok=True)
        self.settings_path = workdir / f"{name}.settings.json"
        self.out = workdir / f"{name}.jsonl"
        self.stop_file = workdir / f"{name}.stop"
        self.log = workdir / f"{name}.log"
        self.settings_path.write_text(json.dumps(raw_settings))
        root = Path(__file__).resolve().parents[1]
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen([sys.executable, "-m", "bench.child", str(self.settings_path), str(self.out),
                                          str(self.stop_file)], cwd=root, stdout=log, stderr=subprocess.STDOUT)

    def samples(self) -> list[dict]:
        if not self.out.exists():
            return []
        return [json.loads(line) for line in self.out.read_text().splitlines() if line.strip()]

    def last(self) -> dict:
        samples = self.samples()
        return samples[-1] if samples else {}

    def check(self) -> None:
        if self.proc.poll() is not None:
            raise RuntimeError(f"bench child exited with {self.proc.returncode}: {self.log.read_text()[-3000:]}")

    def stop(self, timeout: float = 60) -> None:
        self.stop_file.touch()
        try:
            self.proc.wait(timeout)
        except Exception:  # noqa: BLE001
            self.proc.kill()
            self.proc.wait()
