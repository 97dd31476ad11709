"""The services' Kafka client security settings and the per-party ACL plan of deploy.acl, without a
broker (tests/integration/test_party_isolation_acl.py proves the plan on a real one)."""
import pytest

from deploy import acl
from deploy.local.kafka import Secured
from deploy.local.processes import StackError
from services.housekeeping.tracker import broker_credentials
from shared import kafka
from shared.parties import Party
from shared.settings import Settings

SUPPLIER = Party(eui="90-B3-D5-1F-30-01-00-00", name="Supplier", kind="service_user", roles=["IS"])
OTHER = Party(eui="90-B3-D5-1F-30-01-00-01", name="Other", kind="service_user", roles=["IS"])
CSP = Party(eui="90-B3-D5-1F-30-00-00-C1", name="CSP", kind="csp", csp_region="North")
PASSWORD = "Zq3-v9_wK2mT8xYp4LdR"


def test_clients_stay_plaintext_by_default():
    options = kafka.client_options(Settings(_env_file=None))
    assert options == {"bootstrap_servers": "127.0.0.1:29092", "security_protocol": "PLAINTEXT"}
    assert broker_credentials(Settings(_env_file=None)) is None


async def test_sasl_settings_come_from_the_environment_and_reach_every_client(monkeypatch):
    monkeypatch.setenv("SMI_KAFKA_SECURITY_PROTOCOL", "SASL_PLAINTEXT")
    monkeypatch.setenv("SMI_KAFKA_SASL_USERNAME", "smi-platform")
    monkeypatch.setenv("SMI_KAFKA_SASL_PASSWORD", PASSWORD)
    settings = Settings(_env_file=None)
    assert PASSWORD not in repr(settings)
    options = kafka.client_options(settings)
    assert options["sasl_mechanism"] == "SCRAM-SHA-512"
    assert (options["sasl_plain_username"], options["sasl_plain_password"]) == ("smi-platform", PASSWORD)
    clients = [kafka.consumer(settings, "smi-test"), kafka.transactional_producer(settings, "smi-test"),
               kafka.plain_producer(settings)]
    admin = kafka.admin_client(settings)
    try:
        for connection in [clients[0]._client, clients[1].client, clients[2].client, admin._client]:
            assert connection._security_protocol == "SASL_PLAINTEXT"
            assert (connection._sasl_plain_username, connection._sasl_plain_password) == ("smi-platform", PASSWORD)
    finally:
        for client in clients:
            await client.stop()
        await admin.close()
    faust_auth = broker_credentials(settings)
    assert (faust_auth.username, faust_auth.password, faust_auth.mechanism.value) == (
        "smi-platform", PASSWORD, "SCRAM-SHA-512")


def per_party(**changes) -> Settings:
    return Settings(_env_file=None, topic_mode="per-party", **changes)


def test_a_service_user_gets_requests_and_only_its_own_topics_and_groups():
    grants = acl.party_grants(per_party(), SUPPLIER)
    eui = SUPPLIER.eui
    assert [g.acl_args() for g in grants] == [
        ["--add", "--allow-principal", f"User:{eui}", "--operation", "Write", "--operation", "Describe",
         "--topic", "smi.requests", "--resource-pattern-type", "literal"],
        ["--add", "--allow-principal", f"User:{eui}", "--operation", "Read", "--operation", "Describe",
         "--topic", f"smi.responses.{eui}", "--topic", f"smi.alerts.{eui}", "--resource-pattern-type", "literal"],
        ["--add", "--allow-principal", f"User:{eui}", "--operation", "Read",
         "--group", f"{eui}.", "--resource-pattern-type", "prefixed"],
    ]
    named = {n for g in acl.grants(per_party(), [SUPPLIER, OTHER]) if g.user == SUPPLIER.eui for n in g.names}
    assert not any(OTHER.eui in name for name in named)


def test_a_csp_only_writes_the_csp_feed():
    [grant] = acl.party_grants(per_party(), CSP)
    assert (grant.user, grant.operations, grant.names, grant.prefixed) == (
        CSP.eui, ("Write", "Describe"), ("smi.csp-events",), False)


def test_the_platform_owns_the_smi_prefix_and_nothing_is_granted_in_shared_mode():
    grants = acl.platform_grants(per_party())
    assert {(g.resource, g.names, g.prefixed) for g in grants} == {
        ("topic", ("smi",), True), ("group", ("smi",), True), ("transactional-id", ("smi",), True)}
    with pytest.raises(ValueError, match="outside the platform prefix"):
        acl.platform_grants(per_party(topics={"requests": "acme.requests"}))
    with pytest.raises(ValueError, match="per-party"):
        acl.grants(Settings(_env_file=None), [SUPPLIER])


def test_passwords_are_looked_up_per_user_and_must_be_strong_and_quotable():
    assert acl.password_variable("90-B3-D5-1F-30-01-00-00") == "SMI_SCRAM_PASSWORD_90_B3_D5_1F_30_01_00_00"
    assert acl.password_variable("smi-platform") == "SMI_SCRAM_PASSWORD_SMI_PLATFORM"
    assert acl.scram_args("smi-platform", PASSWORD, "SCRAM-SHA-512")[-1] == (
        f"SCRAM-SHA-512=[iterations=8192,password={PASSWORD}]")
    for weak in ("short", 'has"a-quote-inside-it', "has,a-comma-inside-it", "has a space inside it"):
        with pytest.raises(ValueError):
            acl.scram_args("smi-platform", weak, "SCRAM-SHA-512")
    with pytest.raises(StackError):
        Secured('pass"word')


def test_printed_commands_name_password_variables_never_values(monkeypatch):
    lines = acl.shell_commands(per_party(), [SUPPLIER])
    assert lines[0].startswith("kafka-configs.sh ") and "$SMI_SCRAM_PASSWORD_SMI_PLATFORM" in lines[0]
    assert sum(line.startswith("kafka-acls.sh ") for line in lines) == 3 + 3


class RecordingTools:
    def __init__(self) -> None:
        self.calls: list[tuple[str, list[str]]] = []

    def run(self, main: str, args: list[str]) -> str:
        self.calls.append((main, args))
        return ""


def test_apply_sets_only_the_passwords_it_is_given_then_every_acl():
    tools = RecordingTools()
    done = acl.apply(per_party(), [SUPPLIER, OTHER], {acl.password_variable(SUPPLIER.eui): PASSWORD}, tools)
    configs = [args for main, args in tools.calls if main == acl.CONFIG_TOOL]
    assert [args[args.index("--entity-name") + 1] for args in configs] == [SUPPLIER.eui]
    assert sum(main == acl.ACL_TOOL for main, _ in tools.calls) == 3 + 3 + 3
    assert len(done) == len(tools.calls)


def test_the_tools_admin_connection_file():
    settings = per_party(kafka_security_protocol="SASL_PLAINTEXT", kafka_sasl_username="admin",
                         kafka_sasl_password=PASSWORD)
    text = acl.client_properties(settings)
    assert "security.protocol=SASL_PLAINTEXT\n" in text and "sasl.mechanism=SCRAM-SHA-512\n" in text
    assert f'username="admin" password="{PASSWORD}";' in text
