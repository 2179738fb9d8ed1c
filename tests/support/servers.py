"""Real servers for the integration tests: ClickHouse, Prometheus, Alertmanager, a webhook sink.

Each launcher binds loopback ports that were free when it was built, keeps its
data and log in a temporary directory, waits until the server answers, and is a
context manager. A missing binary or a server that won't come up raises
:class:`ServerError` with the tail of the server's log: these tests fail, they
never skip.
"""

from __future__ import annotations

import atexit
import json
import os
import random
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

__all__ = [
    "AlertmanagerServer",
    "ClickHouseCluster",
    "ClickHouseServer",
    "PlannedResponse",
    "PrometheusServer",
    "RecordedRequest",
    "ServerError",
    "WebhookReceiver",
    "ZooKeeperServer",
    "free_port",
    "free_ports",
]

HOST = "127.0.0.1"


class ServerError(RuntimeError):
    """A test server is missing, exited, or did not become ready."""


_PORTS_LOW = 10_000
_random = random.SystemRandom()


def _ephemeral_low() -> int:
    """The kernel's first ephemeral port: outgoing connections and ``bind(0)`` take theirs from there up."""
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def _reservations() -> Path:
    """A directory shared by this test run's processes (xdist workers): a file per port handed out."""
    run = os.environ.get("PYTEST_XDIST_TESTRUNUID") or f"pid{os.getpid()}"
    path = Path(tempfile.gettempdir()) / f"driftline-test-ports-{run}"
    path.mkdir(exist_ok=True)
    return path


def _claim(port: int) -> bool:
    """Free now, and never handed out before to a process of this test run."""
    try:
        with socket.socket() as sock:
            sock.bind((HOST, port))
    except OSError:
        return False
    try:
        os.close(os.open(_reservations() / str(port), os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except FileExistsError:
        return False
    return True


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    return free_ports(1)[0]


def free_ports(count: int) -> list[int]:
    """``count`` distinct free ports for servers the tests start.

    Chosen below the kernel's ephemeral range: a port from ``bind(0)`` is released before the
    server binds it, and in the meantime any process's outgoing connection could take it as its
    source port (a cluster's ClickHouse server once failed with "Address already in use" that way).
    Each is reserved for the test run, so no two test processes are handed the same port.
    """
    high = _ephemeral_low() - 1
    if high - _PORTS_LOW < 1000:  # no room below the ephemeral range: what the kernel hands out
        sockets = [socket.socket() for _ in range(count)]
        try:
            for sock in sockets:
                sock.bind((HOST, 0))
            return [sock.getsockname()[1] for sock in sockets]
        finally:
            for sock in sockets:
                sock.close()
    ports: list[int] = []
    for _ in range(100 * count):
        port = _random.randint(_PORTS_LOW, high)
        if port not in ports and _claim(port):
            ports.append(port)
            if len(ports) == count:
                return ports
    raise ServerError(f"no {count} free ports found in [{_PORTS_LOW}, {high}]")


def free_port_run(count: int, attempts: int = 200) -> int:
    """A port ``p`` such that ``p`` … ``p + count - 1`` are all free now (``driftline run --processes N``
    gives its children the web ports ``metrics.port + i``), reserved like :func:`free_ports`'."""
    high = _ephemeral_low() - count
    for _ in range(attempts):
        first = _random.randint(_PORTS_LOW, max(high, _PORTS_LOW + 1))
        if all(_claim(port) for port in range(first, first + count)):
            return first
    raise ServerError(f"no run of {count} free ports found in {attempts} attempts")


def find_binary(*candidates: str, install_hint: str) -> str:
    """The first candidate that is on PATH or an executable path; ServerError otherwise."""
    for candidate in candidates:
        found = shutil.which(candidate)
        if found:
            return found
    raise ServerError(f"none of {', '.join(candidates)} found; install it with: {install_hint}")


def http_get(url: str, timeout: float = 2.0) -> tuple[int, bytes]:
    """(status, body) of a GET; (0, b"") when nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()
    except OSError:
        return 0, b""


class ServerProcess:
    """A server binary run as a child process, with its output in ``<directory>/<name>.log``.

    Subclasses give the ``command()`` and ``is_ready()``; ``stop()`` then
    ``start()`` runs the same command again, on the same ports and data.
    """

    name = "server"
    startup_timeout = 30.0
    stop_timeout = 15.0

    def __init__(self, directory: str | os.PathLike[str] | None = None) -> None:
        self._owned_dir = None if directory else tempfile.mkdtemp(prefix=f"driftline-{self.name}-")
        self.directory = Path(directory or self._owned_dir)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.log_path = self.directory / f"{self.name}.log"
        self._proc: subprocess.Popen[bytes] | None = None
        self._log_offset = 0

    def command(self) -> list[str]:
        raise NotImplementedError

    def is_ready(self) -> bool:
        raise NotImplementedError

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self) -> ServerProcess:
        """Start the server and wait until it is ready. No-op if running."""
        if self.running:
            return self
        command = self.command()
        with self.log_path.open("ab") as log:
            log.write(f"--- {' '.join(command)}\n".encode())
            log.flush()  # before the child appends to the same file
            self._log_offset = log.tell()
            try:
                self._proc = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log,
                                              stderr=subprocess.STDOUT, cwd=self.directory)
            except OSError as exc:
                raise ServerError(f"cannot run {self.name} ({command[0]}): {exc}") from exc
        atexit.register(self.stop)
        deadline = time.monotonic() + self.startup_timeout
        while True:
            ready = self.is_ready()
            # Checked after is_ready too: a stranger on our port could answer for a server that died.
            if self._proc.poll() is not None:
                raise ServerError(f"{self.name} exited with status {self._proc.returncode}\n{self.log_tail()}")
            if ready:
                return self
            if time.monotonic() > deadline:
                self.stop()
                raise ServerError(f"{self.name} not ready after {self.startup_timeout:g}s\n{self.log_tail()}")
            time.sleep(0.02)

    def stop(self) -> None:
        """Terminate the server (kill it after ``stop_timeout``). Idempotent; keeps the data."""
        atexit.unregister(self.stop)
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=self.stop_timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def close(self) -> None:
        """Stop, and delete the directory if this object made it."""
        self.stop()
        if self._owned_dir:
            shutil.rmtree(self._owned_dir, ignore_errors=True)

    def log_tail(self, limit: int = 4000) -> str:
        try:
            with self.log_path.open("rb") as log:
                log.seek(self._log_offset)
                text = log.read().decode(errors="replace")
        except OSError:
            text = ""
        return f"--- last output of {self.name} ({self.log_path}):\n{text[-limit:] or '(empty)'}"

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class ClickHouseServer(ServerProcess):
    """Debian's ClickHouse 18.16 with its own config, data and logs in ``directory``.

    Creates ``database`` on start. 18.16 hangs on an INSERT whose rows are inline
    ``VALUES`` without params: always pass rows as params.
    """

    name = "clickhouse"

    def __init__(self, directory: str | os.PathLike[str] | None = None, *, database: str = "driftline",
                 binary: str | None = None, extra_config: str = "", create_database: bool = True) -> None:
        """``extra_config``: more XML elements of ``<yandex>`` (a cluster member's remote_servers,
        zookeeper and macros); ``create_database=False`` leaves the database to ``ON CLUSTER`` DDL."""
        super().__init__(directory)
        self.binary = binary
        self.database = database
        self.extra_config = extra_config
        self.create_database = create_database
        self.tcp_port, self.http_port, self.interserver_port = free_ports(3)

    @property
    def url(self) -> str:
        return f"clickhouse://default:@{HOST}:{self.tcp_port}/{self.database}"

    @property
    def http_url(self) -> str:
        return f"http://{HOST}:{self.http_port}"

    def client(self, database: str | None = None, **options: Any):
        """A clickhouse_driver Client; ``database=None`` selects ``self.database``."""
        from clickhouse_driver import Client

        options.setdefault("send_receive_timeout", 60)
        return Client(host=HOST, port=self.tcp_port, user="default", password="",
                      database=database or self.database, **options)

    def command(self) -> list[str]:
        self._write_config()
        binary = self.binary or find_binary(
            "clickhouse-server", "/usr/sbin/clickhouse-server", "clickhouse",
            install_hint="apt-get install clickhouse-server clickhouse-client")
        config = f"--config-file={self.directory / 'config.xml'}"
        return [binary, "server", config] if Path(binary).name == "clickhouse" else [binary, config]

    def is_ready(self) -> bool:
        return http_get(f"{self.http_url}/ping", timeout=1) == (200, b"Ok.\n")

    def start(self) -> ClickHouseServer:
        super().start()
        if not self.create_database:
            return self
        query = urllib.parse.quote(f"CREATE DATABASE IF NOT EXISTS {self.database}")
        request = urllib.request.Request(f"{self.http_url}/?query={query}", data=b"", method="POST")
        with urllib.request.urlopen(request, timeout=10) as response:
            response.read()
        return self

    def _write_config(self) -> None:
        d = self.directory
        for sub in ("data", "tmp", "user_files", "format_schemas", "log"):
            (d / sub).mkdir(exist_ok=True)
        (d / "config.xml").write_text(f"""<?xml version="1.0"?>
<yandex>
    <logger>
        <level>information</level>
        <log>{escape(str(d / 'log' / 'server.log'))}</log>
        <errorlog>{escape(str(d / 'log' / 'server.err.log'))}</errorlog>
        <size>100M</size>
        <count>1</count>
    </logger>
    <listen_host>{HOST}</listen_host>
    <tcp_port>{self.tcp_port}</tcp_port>
    <http_port>{self.http_port}</http_port>
    <interserver_http_port>{self.interserver_port}</interserver_http_port>
    <interserver_http_host>{HOST}</interserver_http_host>
    <path>{escape(str(d / 'data'))}/</path>
    <tmp_path>{escape(str(d / 'tmp'))}/</tmp_path>
    <user_files_path>{escape(str(d / 'user_files'))}/</user_files_path>
    <format_schema_path>{escape(str(d / 'format_schemas'))}/</format_schema_path>
    <users_config>users.xml</users_config>
    <default_profile>default</default_profile>
    <default_database>default</default_database>
    <mark_cache_size>268435456</mark_cache_size>
    <uncompressed_cache_size>268435456</uncompressed_cache_size>
    <max_concurrent_queries>100</max_concurrent_queries>
    <mlock_executable>false</mlock_executable>
{self.extra_config}</yandex>
""")
        (d / "users.xml").write_text("""<?xml version="1.0"?>
<yandex>
    <profiles>
        <default>
            <allow_experimental_low_cardinality_type>1</allow_experimental_low_cardinality_type>
            <poll_interval>1</poll_interval>
        </default>
    </profiles>
    <users>
        <default>
            <password></password>
            <networks><ip>127.0.0.1</ip><ip>::1</ip></networks>
            <profile>default</profile>
            <quota>default</quota>
        </default>
    </users>
    <quotas>
        <default>
            <interval>
                <duration>3600</duration>
                <queries>0</queries><errors>0</errors><result_rows>0</result_rows>
                <read_rows>0</read_rows><execution_time>0</execution_time>
            </interval>
        </default>
    </quotas>
</yandex>
""")

    def log_tail(self, limit: int = 4000) -> str:
        errors = self.directory / "log" / "server.err.log"
        text = errors.read_text(errors="replace")[-limit:] if errors.exists() else "(none)"
        return f"{super().log_tail(limit)}\n--- {errors}:\n{text}"


class ZooKeeperServer(ServerProcess):
    """Debian's ZooKeeper (``zookeeper`` package), standalone, on a loopback port; for a ClickHouse cluster."""

    name = "zookeeper"
    startup_timeout = 60.0
    jars = ("/usr/share/java/zookeeper.jar", "/usr/share/java/slf4j-log4j12.jar", "/usr/share/java/log4j-1.2.jar")

    def __init__(self, directory: str | os.PathLike[str] | None = None, *, java: str | None = None) -> None:
        super().__init__(directory)
        self.java = java
        self.port = free_port()

    def command(self) -> list[str]:
        java = self.java or find_binary("java", install_hint="apt-get install zookeeper")
        missing = [jar for jar in self.jars if not Path(jar).exists()]
        if missing:
            raise ServerError(f"{', '.join(missing)} not found; install it with: apt-get install zookeeper")
        d = self.directory
        (d / "data").mkdir(exist_ok=True)
        (d / "zoo.cfg").write_text(f"""tickTime=500
initLimit=10
syncLimit=5
dataDir={d / 'data'}
clientPort={self.port}
clientPortAddress={HOST}
maxClientCnxns=0
admin.enableServer=false
4lw.commands.whitelist=ruok
""")
        (d / "log4j.properties").write_text(
            "log4j.rootLogger=WARN, CONSOLE\n"
            "log4j.appender.CONSOLE=org.apache.log4j.ConsoleAppender\n"
            "log4j.appender.CONSOLE.layout=org.apache.log4j.PatternLayout\n"
            "log4j.appender.CONSOLE.layout.ConversionPattern=%d %p [%t] %c: %m%n\n")
        classpath = ":".join([str(d), *self.jars])
        return [java, "-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-cp", classpath,
                "org.apache.zookeeper.server.ZooKeeperServerMain", str(d / "zoo.cfg")]

    def is_ready(self) -> bool:
        try:
            with socket.create_connection((HOST, self.port), timeout=1) as sock:
                sock.sendall(b"ruok")
                return sock.recv(8) == b"imok"
        except OSError:
            return False


class ClickHouseCluster:
    """``shards`` x ``replicas`` ClickHouse 18.16 servers on loopback ports and one ZooKeeper: a real cluster.

    The cluster is named ``name`` in every server's ``remote_servers``; each server has the
    macros ``{shard}`` and ``{replica}`` (unique within its shard) and runs ``ON CLUSTER`` DDL.
    It looks like a :class:`ClickHouseServer` to the tests (``tcp_port``, ``url``, ``client()``:
    the first replica of the first shard) and adds ``cluster`` and ``node(shard, replica)`` to
    stop and start one replica.
    """

    def __init__(self, directory: str | os.PathLike[str] | None = None, *, name: str = "driftline_test",
                 shards: int = 2, replicas: int = 2, database: str = "driftline") -> None:
        self._owned_dir = None if directory else tempfile.mkdtemp(prefix="driftline-cluster-")
        self.directory = Path(directory or self._owned_dir)
        self.cluster = name
        self.database = database
        self.zookeeper = ZooKeeperServer(self.directory / "zookeeper")
        self.nodes = {(s, r): ClickHouseServer(self.directory / f"clickhouse-{s}-{r}", database=database)
                      for s in range(1, shards + 1) for r in range(1, replicas + 1)}
        remote = "".join(
            "<shard><internal_replication>true</internal_replication>"
            + "".join(f"<replica><host>{HOST}</host><port>{self.nodes[(s, r)].tcp_port}</port></replica>"
                      for r in range(1, replicas + 1))
            + "</shard>" for s in range(1, shards + 1))
        for (s, r), node in self.nodes.items():
            node.extra_config = f"""    <remote_servers><{name}>{remote}</{name}></remote_servers>
    <zookeeper><node><host>{HOST}</host><port>{self.zookeeper.port}</port></node>
        <session_timeout_ms>10000</session_timeout_ms></zookeeper>
    <macros><shard>{s}</shard><replica>s{s}r{r}</replica></macros>
    <distributed_ddl><path>/clickhouse/task_queue/ddl</path></distributed_ddl>
"""

    @property
    def first(self) -> ClickHouseServer:
        return self.nodes[(1, 1)]

    @property
    def tcp_port(self) -> int:
        return self.first.tcp_port

    @property
    def http_url(self) -> str:
        return self.first.http_url

    @property
    def url(self) -> str:
        return self.first.url

    def node(self, shard: int, replica: int) -> ClickHouseServer:
        return self.nodes[(shard, replica)]

    def client(self, database: str | None = None, *, node: tuple[int, int] = (1, 1), **options: Any):
        """A client of ``node`` that reads the first live replica of each shard, as the workers do."""
        options["settings"] = {"load_balancing": "in_order", "prefer_localhost_replica": 0,
                               "distributed_product_mode": "global", **options.get("settings", {})}
        return self.nodes[node].client(database, **options)

    def start(self) -> ClickHouseCluster:
        self.zookeeper.start()
        errors: list[BaseException] = []

        def start(node: ClickHouseServer) -> None:
            try:
                node.start()
            except BaseException as exc:  # noqa: BLE001 - re-raised below
                errors.append(exc)

        threads = [threading.Thread(target=start, args=(node,)) for node in self.nodes.values()]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if errors:
            self.stop()
            raise errors[0]
        return self

    def stop(self) -> None:
        for node in self.nodes.values():
            node.stop()
        self.zookeeper.stop()

    def close(self) -> None:
        for node in self.nodes.values():
            node.close()
        self.zookeeper.close()
        if self._owned_dir:
            shutil.rmtree(self._owned_dir, ignore_errors=True)

    def __enter__(self) -> ClickHouseCluster:
        try:
            return self.start()
        except BaseException:
            self.close()
            raise

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class _ConfiguredServer(ServerProcess):
    """A Prometheus-family server: YAML config text, one web port, ``/-/ready``."""

    binaries: tuple[str, ...] = ()
    install_hint = ""

    def __init__(self, config_text: str, directory: str | os.PathLike[str] | None = None, *,
                 binary: str | None = None) -> None:
        super().__init__(directory)
        self.config_path = self.directory / f"{self.name}.yml"
        self.config_path.write_text(config_text)
        self.binary = binary
        self.port = free_port()

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def is_ready(self) -> bool:
        return http_get(f"{self.url}/-/ready", timeout=1)[0] == 200

    def _binary(self) -> str:
        return self.binary or find_binary(*self.binaries, install_hint=self.install_hint)


class PrometheusServer(_ConfiguredServer):
    name = "prometheus"
    binaries = ("prometheus", "/usr/bin/prometheus")
    install_hint = "apt-get install prometheus"

    def command(self) -> list[str]:
        return [self._binary(), f"--config.file={self.config_path}",
                f"--storage.tsdb.path={self.directory / 'data'}",
                f"--web.listen-address={HOST}:{self.port}"]

    def query(self, promql: str) -> dict[str, Any]:
        """The ``data`` of an instant query: ``{"resultType": ..., "result": [...]}``."""
        status, body = http_get(f"{self.url}/api/v1/query?{urllib.parse.urlencode({'query': promql})}")
        try:
            answer = json.loads(body)
        except ValueError:
            answer = {}
        if status != 200 or answer.get("status") != "success":
            raise ServerError(f"query {promql!r} failed with HTTP {status}: {body[:500]!r}")
        return answer["data"]


class AlertmanagerServer(_ConfiguredServer):
    name = "alertmanager"
    binaries = ("prometheus-alertmanager", "/usr/bin/prometheus-alertmanager", "alertmanager")
    install_hint = "apt-get install prometheus-alertmanager"

    def command(self) -> list[str]:
        return [self._binary(), f"--config.file={self.config_path}",
                f"--storage.path={self.directory / 'data'}",
                f"--web.listen-address={HOST}:{self.port}", "--cluster.listen-address="]


class Headers(Mapping[str, str]):
    """Read-only, case-insensitive HTTP headers (a repeated header keeps its last value)."""

    def __init__(self, items: Iterable[tuple[str, str]]) -> None:
        self._items = {name.lower(): (name, value) for name, value in items}

    def __getitem__(self, name: str) -> str:
        return self._items[name.lower()][1]

    def __iter__(self) -> Iterator[str]:
        return (name for name, _ in self._items.values())

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return f"Headers({dict(self.items())!r})"


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    headers: Headers
    body: bytes
    received_at: float  # time.monotonic()

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass(frozen=True)
class PlannedResponse:
    status: int = 200
    headers: Mapping[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds to wait before answering
    body: bytes = b""


class WebhookReceiver:
    """A local HTTP server that records every request and answers from a plan.

    ``plan`` items are :class:`PlannedResponse` or ``(status, headers, delay_seconds)``
    tuples (shorter tuples allowed); each request takes the next one, and once
    the plan is used up every request gets ``200``.

    >>> import urllib.request
    >>> with WebhookReceiver(plan=[(503, {"Retry-After": "1"})]) as hook:
    ...     try:
    ...         urllib.request.urlopen(urllib.request.Request(hook.url, data=b"{}"))
    ...     except urllib.error.HTTPError as exc:
    ...         print(exc.code, exc.headers["Retry-After"])
    ...     print(urllib.request.urlopen(hook.url + "/again").status)
    ...     print([(r.method, r.path, r.body) for r in hook.requests])
    503 1
    200
    [('POST', '/hook', b'{}'), ('GET', '/hook/again', b'')]
    """

    def __init__(self, plan: Iterable[PlannedResponse | Sequence[Any]] = (), *, path: str = "/hook") -> None:
        self._lock = threading.Condition()
        self._requests: list[RecordedRequest] = []
        self._plan: list[PlannedResponse] = []
        self.path = path
        self.add_plan(plan)
        self._server = _QuietHTTPServer((HOST, 0), _make_handler(self))
        self.port = self._server.server_address[1]
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}{self.path}"

    @property
    def requests(self) -> list[RecordedRequest]:
        """A snapshot of the requests received so far, oldest first."""
        with self._lock:
            return list(self._requests)

    def add_plan(self, plan: Iterable[PlannedResponse | Sequence[Any]]) -> None:
        """Append responses to the plan."""
        items = [p if isinstance(p, PlannedResponse) else PlannedResponse(*p) for p in plan]
        with self._lock:
            self._plan.extend(items)

    def wait_for(self, predicate: Callable[[list[RecordedRequest]], Any] = bool,
                 timeout: float = 10.0) -> list[RecordedRequest]:
        """Wait until ``predicate(requests)`` is truthy and return the requests."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while not predicate(list(self._requests)):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"webhook receiver: condition not met after {timeout:g}s; "
                                         f"got {len(self._requests)} requests: {self._requests!r:.2000}")
                self._lock.wait(min(remaining, 0.1))
            return list(self._requests)

    def start(self) -> WebhookReceiver:
        if self._thread is None:
            self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                            name=f"webhook-receiver-{self.port}", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join()
            self._thread = None
        self._server.server_close()

    def __enter__(self) -> WebhookReceiver:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _record(self, request: RecordedRequest) -> PlannedResponse:
        with self._lock:
            self._requests.append(request)
            self._lock.notify_all()
            return self._plan.pop(0) if self._plan else PlannedResponse()


class _QuietHTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that gave up during a planned delay is expected, not news


def _make_handler(receiver: WebhookReceiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _handle(self) -> None:
            body = self._read_body()
            headers = Headers(self.headers.items())
            planned = receiver._record(RecordedRequest(self.command, self.path, headers, body, time.monotonic()))
            if planned.delay:
                time.sleep(planned.delay)
            self.send_response(planned.status)
            for name, value in planned.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(planned.body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(planned.body)

        def _read_body(self) -> bytes:
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                chunks = []
                while size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16):
                    chunks.append(self.rfile.read(size))
                    self.rfile.readline()
                while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return b"".join(chunks)
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _handle  # noqa: N815

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass

    return Handler
