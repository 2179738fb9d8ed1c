"""``driftline run --processes N``: N worker processes of one consumer group on this host.

One worker process runs its hot path in one Python thread (the GIL), so one process uses about
one core. The launcher starts N ``driftline run`` children with the same config; the broker's
group coordinator spreads the partitions over them, exactly as over N pods. Child ``i`` gets:

* its own Faust data directory, ``<datadir>/worker-<i>``;
* its own web port, ``metrics.port + i`` (``/metrics``, ``/healthz``, the status page): scrape
  and probe each (a port of 0 stays 0: each child picks a free one).

The launcher forwards SIGTERM and SIGINT to every child and waits for them (each checkpoints
and leaves the group). If a child exits on its own, the launcher stops the others and exits
with that child's status, so that the supervisor (systemd, Kubernetes) restarts the whole set:
the group rebalances and each partition resumes from its checkpoint.

N above the partition count leaves the extra processes idle. See docs/deployment.md "Scaling".
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

__all__ = ["child_command", "run_processes", "worker_datadir"]


def worker_datadir(datadir: str, index: int) -> str:
    """The Faust data directory of child ``index``."""
    return str(Path(datadir) / f"worker-{index}")


def child_command(config: str, datadir: str, loglevel: str, index: int) -> list[str]:
    """The command line of child ``index``: ``driftline run`` with its worker index."""
    return [sys.executable, "-m", "driftline.cli", "run", "--config", config, "--datadir",
            worker_datadir(datadir, index), "--loglevel", loglevel, "--worker-index", str(index)]


def run_processes(config: str, datadir: str, loglevel: str, processes: int, *,
                  popen: Callable[..., subprocess.Popen] = subprocess.Popen, poll_s: float = 0.5) -> int:
    """Start ``processes`` children and supervise them; returns the exit status for the launcher."""
    if processes < 1:
        raise ValueError(f"processes must be >= 1, got {processes}")
    children = [popen(child_command(config, datadir, loglevel, i)) for i in range(processes)]
    stopping = False

    def stop(signum, frame) -> None:  # noqa: ARG001 - the signal handler's signature
        nonlocal stopping
        stopping = True
        _signal_all(children, signal.SIGTERM)

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        while True:
            statuses = [child.poll() for child in children]
            if all(s is not None for s in statuses):
                return 0 if stopping else max(abs(s) for s in statuses)
            failed = [s for s in statuses if s is not None]
            if failed and not stopping:
                stopping = True
                _signal_all(children, signal.SIGTERM)
                _wait_all(children)
                return abs(failed[0]) or 1
            time.sleep(poll_s)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _signal_all(children: Sequence[subprocess.Popen], signum: int) -> None:
    for child in children:
        if child.poll() is None:
            try:
                os.kill(child.pid, signum)
            except ProcessLookupError:
                pass


def _wait_all(children: Sequence[subprocess.Popen], timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    for child in children:
        try:
            child.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
