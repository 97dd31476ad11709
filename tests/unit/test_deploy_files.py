"""docker-compose.yml, the Dockerfile, the Prometheus and Grafana files, checked statically
(there is no Docker engine here): every service, port, volume, env var and start condition the
code expects."""
import json
import re
import tomllib

import pytest
import yaml

from deploy import dashboards
from deploy.local.services import available, http_port, metrics_port
from services.housekeeping.config import HousekeepingSettings
from shared.settings import REPO_ROOT, Settings, Topics
from shared.topics import BROKER_DEFAULTS

COMPOSE = yaml.safe_load((REPO_ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]
PLATFORM = available()  # intake, inventory, housekeeping, returns (and ssi where it is built)
WITH_HTTP_API = {"inventory", "housekeeping", "returns", "ssi"}
PROMETHEUS = yaml.safe_load((REPO_ROOT / "deploy" / "prometheus" / "prometheus.yml").read_text())


def dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    text = re.sub(r"\\\n", " ", (REPO_ROOT / "deploy" / "docker" / "Dockerfile").read_text())
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("#")]
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in lines]


def known_variables() -> set[str]:
    names = {f"SMI_{name.upper()}" for name in Settings.model_fields if name != "topics"}
    names |= {f"SMI_TOPICS__{name.upper()}" for name in Topics.model_fields}
    names |= {f"SMI_HOUSEKEEPING_{name.upper()}" for name in HousekeepingSettings.model_fields}
    try:
        from services.ssi.config import SSISettings
        names |= {f"SMI_SSI_{name.upper()}" for name in SSISettings.model_fields}
    except ImportError:
        pass
    return names


def test_every_platform_service_is_in_compose_with_its_module_and_the_shared_image():
    assert {"kafka", "postgres", "prepare", "prometheus", "grafana"} <= set(SERVICES)
    for name in PLATFORM:
        service = SERVICES[name]
        assert service["command"] == ["python", "-m", f"services.{name}"]
        assert service["build"] == {"context": ".", "dockerfile": "deploy/docker/Dockerfile"}
        assert service["image"] == "smi-platform:local"
    assert SERVICES["prepare"]["command"] == ["python", "-m", "deploy.prepare"]
    assert SERVICES["prepare"]["restart"] == "no"
    assert SERVICES["kafka"]["image"] == "apache/kafka:4.1.1"
    assert SERVICES["kafka"]["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller"


def test_the_compose_broker_keeps_records_as_the_local_broker_does():
    env = {k: str(v) for k, v in SERVICES["kafka"]["environment"].items()}
    for name, value in BROKER_DEFAULTS.items():
        assert env[f"KAFKA_{name.upper().replace('.', '_')}"] == value, name


def _with_three_brokers() -> dict:
    """docker-compose.yml with deploy/docker/three-brokers.yml laid over it, as compose merges
    them: a service's mappings (environment, depends_on) key by key, anything else replaced."""
    override = yaml.safe_load((REPO_ROOT / "deploy" / "docker" / "three-brokers.yml").read_text())
    merged = {name: dict(service) for name, service in SERVICES.items()}
    for name, service in override["services"].items():
        base = merged.setdefault(name, {})
        for key, value in service.items():
            base[key] = {**base.get(key, {}), **value} if isinstance(value, dict) else value
    return {"services": merged, "volumes": {**COMPOSE["volumes"], **override["volumes"]}}


def test_the_three_broker_override_replicates_everything_and_every_client_knows_every_node():
    compose = _with_three_brokers()
    nodes = {name: {k: str(v) for k, v in service["environment"].items()}
             for name, service in compose["services"].items() if name.startswith("kafka")}
    assert sorted(nodes) == ["kafka", "kafka-2", "kafka-3"]
    voters = {f"{env['KAFKA_NODE_ID']}@{name}:9093" for name, env in nodes.items()}
    for name, env in nodes.items():
        assert set(env["KAFKA_CONTROLLER_QUORUM_VOTERS"].split(",")) == voters
        assert env["KAFKA_ADVERTISED_LISTENERS"].startswith(f"PLAINTEXT://{name}:9092,")
        assert (env["KAFKA_DEFAULT_REPLICATION_FACTOR"], env["KAFKA_MIN_INSYNC_REPLICAS"]) == ("3", "2")
        assert env["KAFKA_UNCLEAN_LEADER_ELECTION_ENABLE"] == "false"
        assert env["KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR"] == env["KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR"] == "3"
        # apart from who it is, each node is configured as the one broker of docker-compose.yml
        same = {k: v for k, v in env.items() if k not in ("KAFKA_NODE_ID", "KAFKA_ADVERTISED_LISTENERS")}
        assert same == {k: v for k, v in nodes["kafka"].items()
                        if k not in ("KAFKA_NODE_ID", "KAFKA_ADVERTISED_LISTENERS")}, name
    host_ports = [port for name in nodes for port in compose["services"][name]["ports"]]
    assert len(set(host_ports)) == 3
    for name in [*PLATFORM, "prepare"]:
        service = compose["services"][name]
        assert service["environment"]["SMI_KAFKA_BOOTSTRAP_SERVERS"] == "kafka:9092,kafka-2:9092,kafka-3:9092"
        assert int(service["environment"]["SMI_REPLICATION_FACTOR"]) == 3
        assert {"kafka", "kafka-2", "kafka-3"} <= set(service["depends_on"]), name
    assert {"kafka-2-data", "kafka-3-data"} <= set(compose["volumes"])


@pytest.mark.parametrize("name", PLATFORM)
def test_each_service_gets_the_env_and_ports_the_code_reads(name):
    service = SERVICES[name]
    env = {k: str(v) for k, v in service["environment"].items()}
    assert set(env) <= known_variables(), set(env) - known_variables()
    assert env["SMI_KAFKA_BOOTSTRAP_SERVERS"] == "kafka:9092"
    assert env["SMI_DATABASE_URL"].startswith("postgresql://") and "@postgres:5432/" in env["SMI_DATABASE_URL"]
    assert env["SMI_METRICS_PORT"] == str(metrics_port(name))
    assert env["SMI_HTTP_PORT"] == (str(http_port(name)) if name in WITH_HTTP_API else "0")
    assert env["SMI_INSTANCE_ID"] == f"{name}-1"
    published = {int(p.split(":")[1]) for p in service.get("ports", [])}
    assert published == ({metrics_port(name), http_port(name)} if name in WITH_HTTP_API else {metrics_port(name)})
    assert service["healthcheck"]["test"] == ["CMD", "python", "-m", "deploy.healthcheck", name,
                                              str(metrics_port(name))]


def test_instance_ids_are_distinct_and_secrets_come_from_the_environment():
    ids = [SERVICES[name]["environment"]["SMI_INSTANCE_ID"] for name in PLATFORM]
    assert len(set(ids)) == len(ids)
    text = (REPO_ROOT / "docker-compose.yml").read_text()
    for secret in ("POSTGRES_PASSWORD", "GRAFANA_ADMIN_PASSWORD"):
        assert re.search(rf"\$\{{{secret}:\?[^}}]+\}}", text), secret
    assert SERVICES["postgres"]["environment"]["POSTGRES_PASSWORD"].startswith("${POSTGRES_PASSWORD:?")
    assert SERVICES["grafana"]["environment"]["GF_SECURITY_ADMIN_PASSWORD"].startswith("${GRAFANA_ADMIN_PASSWORD:?")
    example = (REPO_ROOT / ".env.example").read_text()
    for variable in re.findall(r"\$\{([A-Z_]+):\?", text):
        assert re.search(rf"^{variable}=change-me", example, re.M), f"{variable} needs a placeholder in .env.example"


def test_start_order_waits_for_healthy_infrastructure_and_a_finished_prepare():
    for name in ("kafka", "postgres", "prometheus", "grafana", *PLATFORM):
        assert "healthcheck" in SERVICES[name], name
    assert SERVICES["prepare"]["depends_on"] == {"kafka": {"condition": "service_healthy"},
                                                 "postgres": {"condition": "service_healthy"}}
    for name in PLATFORM:
        depends = SERVICES[name]["depends_on"]
        assert depends["prepare"] == {"condition": "service_completed_successfully"}
        assert depends["kafka"] == depends["postgres"] == {"condition": "service_healthy"}
    assert set(SERVICES["prometheus"]["depends_on"]) == set(PLATFORM)
    assert SERVICES["grafana"]["depends_on"] == {"prometheus": {"condition": "service_healthy"}}


def test_volumes_are_declared_and_mounted_files_exist():
    declared = set(COMPOSE["volumes"])
    for name, service in SERVICES.items():
        for mount in service.get("volumes", []):
            source, target = mount.split(":")[:2]
            if source.startswith("./"):
                assert (REPO_ROOT / source).exists(), f"{name}: {source}"
            else:
                assert source in declared, f"{name}: {source}"
    assert "kafka-data:/var/lib/kafka/data" in SERVICES["kafka"]["volumes"]
    housekeeping = SERVICES["housekeeping"]
    assert f"housekeeping-data:{housekeeping['environment']['SMI_HOUSEKEEPING_DATA_DIR']}" in housekeeping["volumes"]
    policy = housekeeping["environment"]["SMI_HOUSEKEEPING_POLICY_FILE"]
    assert policy == "/etc/smi/housekeeping/policy.yaml"
    assert "./deploy/housekeeping:/etc/smi/housekeeping:ro" in housekeeping["volumes"]


def test_the_dockerfile_builds_one_image_that_runs_every_service():
    instructions = dockerfile()
    assert instructions[0] == ("FROM", "python:3.11-slim")
    requires = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    assert requires == ">=3.11"
    copied = {args.split()[0] for op, args in instructions if op == "COPY"}
    assert {"pyproject.toml", "shared", "services", "deploy", "cli"} <= copied
    for package in copied:
        assert (REPO_ROOT / package).exists(), package
    env = " ".join(args for op, args in instructions if op == "ENV")
    assert "PYTHONPATH=/app" in env and "SMI_PARTIES_FILE=/app/deploy/parties.yaml" in env
    assert ("WORKDIR", "/app") in instructions
    users = [args for op, args in instructions if op == "USER"]
    assert users and users[-1] not in ("root", "0")
    exposed = {int(p) for op, args in instructions if op == "EXPOSE" for p in args.split()}
    assert {metrics_port(n) for n in PLATFORM} <= exposed
    assert {http_port(n) for n in PLATFORM if n in WITH_HTTP_API} <= exposed
    [cmd] = [json.loads(args) for op, args in instructions if op == "CMD"]
    assert cmd[:2] == ["python", "-m"] and cmd[2].startswith("services.")
    ignored = (REPO_ROOT / ".dockerignore").read_text().split()
    assert {".venv", ".git", ".env"} <= set(ignored)


def test_prometheus_scrapes_every_service_on_its_metrics_port_and_loads_the_rules():
    targets = {job["job_name"]: job["static_configs"][0]["targets"] for job in PROMETHEUS["scrape_configs"]}
    assert targets == {name: [f"{name}:{metrics_port(name)}"] for name in PLATFORM}
    assert PROMETHEUS["rule_files"] == ["/etc/prometheus/alerts.yml"]
    assert "./deploy/prometheus:/etc/prometheus:ro" in SERVICES["prometheus"]["volumes"]
    alerts = yaml.safe_load((REPO_ROOT / "deploy" / "prometheus" / "alerts.yml").read_text())
    names = {rule["alert"] for group in alerts["groups"] for rule in group["rules"]}
    assert {"SmiConsumerLagHigh", "SmiDeadLetters", "SmiReturnsOverdue"} <= names


def test_grafana_provisions_the_datasource_the_dashboards_use_and_every_dashboard_file():
    provisioning = REPO_ROOT / "deploy" / "grafana" / "provisioning"
    [source] = yaml.safe_load((provisioning / "datasources" / "prometheus.yml").read_text())["datasources"]
    assert (source["uid"], source["url"]) == (dashboards.DATASOURCE["uid"], "http://prometheus:9090")
    [provider] = yaml.safe_load((provisioning / "dashboards" / "smi.yml").read_text())["providers"]
    assert f"./deploy/grafana/dashboards:{provider['options']['path']}:ro" in SERVICES["grafana"]["volumes"]
    home = SERVICES["grafana"]["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert (dashboards.DASHBOARDS_DIR / home.rsplit("/", 1)[1]).exists()


def test_dashboard_files_are_what_the_generator_renders():
    files = {p.name: p.read_text() for p in dashboards.DASHBOARDS_DIR.glob("*.json")}
    assert files == dashboards.rendered(), "run `python -m deploy.dashboards`"
    titles = {json.loads(text)["title"] for text in files.values()}
    assert titles == {"SMI intake", "SMI inventory", "SMI housekeeping", "SMI returns", "SMI Kafka consumers"}


def test_dashboards_query_only_metrics_the_services_define():
    defined = set()
    for path in [REPO_ROOT / "shared" / "metrics.py", *REPO_ROOT.glob("services/*/metrics.py")]:
        for kind, name in re.findall(r'(Counter|Gauge|Histogram)\(\s*"(smi_[a-z0-9_]+)"', path.read_text()):
            defined |= {name} if kind != "Histogram" else {f"{name}_bucket", f"{name}_sum", f"{name}_count"}
    queried = set()
    for dashboard in dashboards.DASHBOARDS:
        for panel in dashboard.panels:
            for expr, _ in panel.targets:
                queried |= set(re.findall(r"\bsmi_[a-z0-9_]+", expr))
    assert queried <= defined, queried - defined


# --- no credential is committed: compose and .env.example take secrets from the environment, and
# the code holds no password literal (tests make their own at run time) ---

SECRET_NAME = r"(passw(or)?d|secret|token|api_?key|credential)"
PASSWORD_LITERALS = [
    re.compile(r"\b[a-z][a-z0-9+.-]*://[^/\s:@'\"{}]+:[^@/\s'\"{}]+@", re.I),  # scheme://user:password@
    re.compile(SECRET_NAME + r"\w*[\"']?\s*(:\s*[\w\[\]|. ]+?)?\s*[=:]\s*(SecretStr\()?[rbf]?\\?[\"'][^\"'{}\s]+[\"']",
               re.I),
    re.compile(r"\bpassword\s+'[^']+'", re.I),  # SQL: create role ... password '...'
]
FROM_ENVIRONMENT = re.compile(r"\$\{[A-Z_][A-Z0-9_]*(:\?[^}]*)?\}")  # required, with no default value


def password_literals(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if any(p.search(line) for p in PASSWORD_LITERALS)]


@pytest.mark.parametrize("line", [
    'database_url: str = "postgresql://smi:smi@127.0.0.1:25432/smi"',
    "create role smi login createdb password 'smi'",
    'kafka_sasl_password: SecretStr = SecretStr("hunter2-hunter2")',
    '{"sasl_plain_password": "hunter2"}',
    "session_secret = 'abc'",
    'jaas = "ScramLoginModule required username=\\"admin\\" password=\\"hunter2\\";"',
])
def test_the_credential_scan_finds_literal_passwords(line):
    assert password_literals(line) == [line]


@pytest.mark.parametrize("line", [
    'kafka_sasl_password: SecretStr = SecretStr("")',
    'url = f"postgresql://{user}:{password}@postgres:5432/smi"',
    '<input id="secret" name="secret" type="password" autocomplete="current-password" required>',
    """jaas = f'username="{user}" password="{self.admin_password}";'""",
    "password = environ.get(password_variable(user))",
])
def test_the_credential_scan_lets_references_and_placeholders_pass(line):
    assert password_literals(line) == []


def test_no_password_literal_in_the_code():
    files = [path for folder in ("shared", "services", "deploy", "cli") for path in (REPO_ROOT / folder).rglob("*.py")]
    files += [REPO_ROOT / "deploy" / "docker" / "Dockerfile", REPO_ROOT / "Makefile"]
    found = {str(path.relative_to(REPO_ROOT)): hits for path in files if (hits := password_literals(path.read_text()))}
    assert found == {}


def test_every_secret_in_compose_comes_from_the_environment_without_a_default():
    secrets_seen = 0
    for name, service in SERVICES.items():
        for variable, value in (service.get("environment") or {}).items():
            value = str(value)
            if re.search(SECRET_NAME, variable, re.I):
                assert FROM_ENVIRONMENT.fullmatch(value), f"{name}: {variable}={value}"
                secrets_seen += 1
            if userinfo := re.search(r"://(?:\$\{[^}]*\}|[^/@:$])+:(.*)@", value):  # user, password
                assert FROM_ENVIRONMENT.fullmatch(userinfo.group(1)), f"{name}: {variable} holds a password"
                secrets_seen += 1
    assert secrets_seen >= 3  # PostgreSQL, Grafana, the SSI's session secret at least
    assert password_literals((REPO_ROOT / "docker-compose.yml").read_text()) == []


def test_the_env_example_holds_no_real_credentials():
    for line in (REPO_ROOT / ".env.example").read_text().splitlines():
        variable, _, value = line.partition("=")
        if not line.startswith("#") and re.search(SECRET_NAME, variable, re.I):
            assert value == "" or value.startswith("change-me"), line
