"""Per-party topics locked by Kafka ACLs (contract section 6), on a real broker with SASL/SCRAM
users and the StandardAuthorizer: `python -m deploy.acl` sets up two parties and the platform, the
platform publishes responses and alerts as the services do, and each party reads its own only.

The broker runs in <repo>/.stack-acl on its own ports, apart from the shared test broker; every
password is generated here at run time."""
import asyncio
import json
import logging
import secrets
import shutil
from datetime import UTC, datetime

import pytest
import yaml
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import (GroupAuthorizationFailedError, KafkaConnectionError, KafkaError,
                             TopicAuthorizationFailedError)

from deploy import acl
from deploy.local import kafka as local_kafka
from deploy.local.layout import REPO_ROOT, Layout
from deploy.local.processes import StackError
from services.housekeeping.domain import n8_payload
from shared import codes, kafka
from shared.duis import codec
from shared.kafka import Output
from shared.messages import ReplyTo
from shared.responses import alert, alert_topic, per_party_topics, response, response_topic
from shared.settings import Settings
from tests.conftest import unavailable

pytestmark = pytest.mark.integration

STACK_DIR = REPO_ROOT / ".stack-acl"
KAFKA_PORT = 29692  # the controller listens on the next port
PARTY_A, PARTY_B = "90-B3-D5-1F-30-01-00-00", "90-B3-D5-1F-30-01-00-01"
DEVICE = {PARTY_A: "00-DB-12-34-56-78-90-A0", PARTY_B: "00-DB-12-34-56-78-90-B0"}


def new_password() -> str:
    return secrets.token_urlsafe(24)


@pytest.fixture(scope="module")
def broker():
    layout = Layout.resolve(STACK_DIR, kafka_port=KAFKA_PORT, pg_port=KAFKA_PORT + 2)  # no PostgreSQL here
    local_kafka.stop(layout)  # a broker a crashed run left behind
    shutil.rmtree(STACK_DIR, ignore_errors=True)  # formatted with another run's admin password
    layout.record()
    secured = local_kafka.Secured(new_password())
    try:
        local_kafka.start(layout, secured=secured)
    except StackError as error:
        unavailable(f"the SASL/SCRAM broker did not start: {error}")
    try:
        yield layout.bootstrap, secured.admin_password
    finally:
        local_kafka.stop(layout)
        shutil.rmtree(STACK_DIR, ignore_errors=True)


@pytest.fixture(scope="module")
def passwords():
    return {user: new_password() for user in (acl.PLATFORM_USER, PARTY_A, PARTY_B)}


def as_user(bootstrap: str, user: str, password: str) -> Settings:
    return Settings(kafka_bootstrap_servers=bootstrap, kafka_security_protocol="SASL_PLAINTEXT",
                    kafka_sasl_username=user, kafka_sasl_password=password, topic_mode="per-party")


@pytest.fixture(scope="module")
def acls(broker, passwords, tmp_path_factory):
    """`python -m deploy.acl` as an operator runs it: every setting and secret from the environment."""
    bootstrap, admin_password = broker
    registry = tmp_path_factory.mktemp("acl") / "parties.yaml"
    registry.write_text(yaml.safe_dump({"parties": [
        {"eui": eui, "name": f"Supplier {eui[-2:]}", "kind": "service_user", "roles": ["IS", "GS"]}
        for eui in (PARTY_A, PARTY_B)]}))
    with pytest.MonkeyPatch.context() as env:
        for name, value in {"SMI_KAFKA_BOOTSTRAP_SERVERS": bootstrap,
                            "SMI_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
                            "SMI_KAFKA_SASL_USERNAME": local_kafka.SUPER_USER,
                            "SMI_KAFKA_SASL_PASSWORD": admin_password,
                            "SMI_TOPIC_MODE": "per-party", "SMI_PARTIES_FILE": str(registry),
                            **{acl.password_variable(user): pw for user, pw in passwords.items()}}.items():
            env.setenv(name, value)
        assert acl.main([]) == 0


async def eventually(action, seconds: float = 30.0):
    """New users and ACLs reach the broker's authorizer through the metadata log, a moment later."""
    deadline = asyncio.get_running_loop().time() + seconds
    while True:
        try:
            return await action()
        except KafkaError:
            if asyncio.get_running_loop().time() > deadline:
                raise
            await asyncio.sleep(0.5)


def request(party: str) -> tuple[str, bytes]:
    request_id = f"{party}:90-B3-D5-1F-30-00-00-02:1001"
    document = {"Header": {"RequestID": request_id, "CommandVariant": 1, "ServiceReference": "8.2",
                           "ServiceReferenceVariant": "8.2"}, "Body": {"ReadInventory": {}}}
    return request_id, json.dumps(document).encode()


async def send_request(settings: Settings, party: str) -> None:
    producer = kafka.plain_producer(settings)
    await producer.start()
    try:
        await producer.send_and_wait(settings.topics.requests, request(party)[1], key=party.encode(),
                                     headers=[("content-type", b"application/json")])
    finally:
        await producer.stop()


def outputs_for(settings: Settings, record) -> list[Output]:
    """What the services publish for a party: its response, and an N8 alert as housekeeping sends."""
    party = record.key.decode()
    reply = ReplyTo(request_id=json.loads(record.value)["Header"]["RequestID"], originator=party,
                    format="json", schema_version="5.1", variant="8.2")
    now = datetime.now(UTC)
    return [response(settings, reply, "I0", now),
            alert(settings, party, "xml", codes.DEVICE_REMOVED, n8_payload(DEVICE[party]), now)]


async def serve_requests(settings: Settings, expected: int) -> None:
    """The platform's consume-transform-produce loop: records out and offsets in one transaction."""
    group = "smi-intake"
    consumer = kafka.consumer(settings, group, settings.topics.requests)
    publisher = kafka.TransactionalPublisher(settings, group)
    await consumer.start()
    await publisher.start()
    try:
        records = []
        while len(records) < expected:
            for batch in (await consumer.getmany(timeout_ms=1000)).values():
                records += batch
        offsets = {TopicPartition(r.topic, r.partition): r.offset + 1 for r in records}
        outputs = [o for r in records for o in outputs_for(settings, r)]
        await asyncio.wait_for(publisher.publish(outputs, offsets, group), 60)
    finally:
        await publisher.stop()
        await consumer.stop()


@pytest.fixture(scope="module")
async def published(broker, passwords, acls):
    """Each party sends one request; the platform, as its own user, answers and alerts each."""
    bootstrap, _ = broker
    platform = as_user(bootstrap, acl.PLATFORM_USER, passwords[acl.PLATFORM_USER])
    await eventually(lambda: kafka.ensure_topics(platform, per_party_topics(platform, [PARTY_A, PARTY_B])))
    for party in (PARTY_A, PARTY_B):
        await eventually(lambda: send_request(as_user(bootstrap, party, passwords[party]), party))
    await asyncio.wait_for(serve_requests(platform, expected=2), 90)
    return bootstrap


async def read_all(consumer: AIOKafkaConsumer, count: int, seconds: float = 20.0) -> list:
    records = []
    deadline = asyncio.get_running_loop().time() + seconds
    while len(records) < count and asyncio.get_running_loop().time() < deadline:
        for batch in (await consumer.getmany(timeout_ms=500)).values():
            records += batch
    return records


def party_consumer(settings: Settings, *topics: str, group: str | None = None) -> AIOKafkaConsumer:
    return AIOKafkaConsumer(*topics, **kafka.client_options(settings), group_id=group,
                            auto_offset_reset="earliest", isolation_level="read_committed")


@pytest.mark.parametrize("party", [PARTY_A, PARTY_B])
async def test_a_party_reads_its_own_responses_and_alerts(published, passwords, party):
    settings = as_user(published, party, passwords[party])
    consumer = party_consumer(settings, response_topic(settings, party), alert_topic(settings, party),
                              group=f"{party}.reader")
    await consumer.start()
    try:
        records = {r.topic: r for r in await read_all(consumer, 2)}
    finally:
        await consumer.stop()
    answer = json.loads(records[response_topic(settings, party)].value)["Header"]
    assert (answer["RequestID"], answer["ResponseCode"]) == (request(party)[0], "I0")
    alerted = records[alert_topic(settings, party)]
    assert alerted.key == party.encode()
    message = codec.read(alerted.value)["Body"]["DCCAlertMessage"]
    assert message["DCCAlertCode"] == "N8"
    assert message["DCCAlert"]["DeviceStatusChangeEvent"]["DeviceID"] == DEVICE[party]


@pytest.mark.parametrize("topic", [response_topic, alert_topic])
async def test_a_party_cannot_subscribe_to_another_partys_topic(published, passwords, topic):
    settings = as_user(published, PARTY_A, passwords[PARTY_A])
    consumer = party_consumer(settings, topic(settings, PARTY_B), group=f"{PARTY_A}.snooper")
    try:
        with pytest.raises(TopicAuthorizationFailedError):
            await consumer.start()
    finally:
        await consumer.stop()


async def test_fetching_another_partys_partitions_directly_returns_nothing(published, passwords):
    """Assigned partitions skip a subscription's metadata check; the fetch itself is refused. The
    same fetch of the party's own partitions finds its record, so there was something to find."""
    settings = as_user(published, PARTY_A, passwords[PARTY_A])

    async def fetch_from_start(owner: str, seconds: float) -> list:
        consumer = party_consumer(settings)
        await consumer.start()
        try:
            partitions = [TopicPartition(response_topic(settings, owner), p) for p in range(settings.partitions)]
            consumer.assign(partitions)
            for tp in partitions:
                consumer.seek(tp, 0)
            return await read_all(consumer, 1, seconds)
        finally:
            await consumer.stop()

    assert await fetch_from_start(PARTY_B, seconds=5) == []
    [own] = await fetch_from_start(PARTY_A, seconds=20)
    assert own.key == PARTY_A.encode()


async def test_a_party_cannot_use_the_platforms_consumer_group(published, passwords):
    settings = as_user(published, PARTY_A, passwords[PARTY_A])
    consumer = party_consumer(settings, response_topic(settings, PARTY_A), group="smi-intake")
    try:
        with pytest.raises(GroupAuthorizationFailedError):
            await consumer.start()
    finally:
        await consumer.stop()


async def test_a_wrong_password_is_refused(published, passwords, caplog):
    settings = as_user(published, PARTY_A, new_password())
    consumer = party_consumer(settings, response_topic(settings, PARTY_A), group=f"{PARTY_A}.reader")
    with caplog.at_level(logging.ERROR, logger="aiokafka"):
        try:
            with pytest.raises(KafkaConnectionError):
                await consumer.start()
        finally:
            await consumer.stop()
    assert "SaslAuthenticationFailed" in caplog.text


@pytest.mark.parametrize("owner", [PARTY_B, PARTY_A])
async def test_a_party_cannot_write_a_response_topic(published, passwords, owner):
    """Not another party's, and not its own either: only the platform answers."""
    settings = as_user(published, PARTY_A, passwords[PARTY_A])
    producer = AIOKafkaProducer(**kafka.client_options(settings))
    await producer.start()
    try:
        with pytest.raises(TopicAuthorizationFailedError):
            await producer.send_and_wait(response_topic(settings, owner), b"forged", key=owner.encode())
    finally:
        await producer.stop()
