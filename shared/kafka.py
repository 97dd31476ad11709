"""Kafka plumbing: records out, dead letters, clients with the platform's settings, topics."""
import asyncio
import logging
import time
from dataclasses import dataclass, field

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import KafkaError, TopicAlreadyExistsError, UnknownTopicOrPartitionError, for_code
from aiokafka.helpers import create_ssl_context
from aiokafka.partitioner import DefaultPartitioner
from aiokafka.structs import ConsumerRecord

from shared import registry, topics
from shared.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Output:
    """One record to publish: the result of handling an input record."""
    topic: str
    value: bytes
    key: bytes | None = None
    headers: tuple[tuple[str, str], ...] = field(default_factory=tuple)

    def kafka_headers(self) -> list[tuple[str, bytes]]:
        return [(k, v.encode()) for k, v in self.headers]


def header(record: ConsumerRecord, name: str) -> str | None:
    """A record header's text; one that cannot be read (a null value, a name that is not text)
    counts as absent, so the record is still answered."""
    for key, value in record.headers or ():
        if isinstance(key, str) and key.lower() == name:
            return value.decode("utf-8", "replace") if isinstance(value, bytes) else None
    return None


def dead_letter(settings: Settings, record: ConsumerRecord, reason: str, service: str) -> Output:
    """The original bytes, unchanged, with the reason and the source position in headers."""
    return Output(
        topic=settings.topics.dead_letters,
        value=record.value or b"",
        key=record.key,
        headers=(
            ("dlq-reason", reason[:2000]),
            ("dlq-service", service),
            ("dlq-source-topic", record.topic),
            ("dlq-source-partition", str(record.partition)),
            ("dlq-source-offset", str(record.offset)),
            ("dlq-source-timestamp", str(record.timestamp)),
        ),
    )


def client_options(settings: Settings) -> dict:
    """Where and how every Kafka client of the platform connects: brokers and security."""
    options: dict = {"bootstrap_servers": settings.kafka_bootstrap_servers,
                     "security_protocol": settings.kafka_security_protocol}
    if settings.kafka_security_protocol.startswith("SASL_"):
        options |= {"sasl_mechanism": settings.kafka_sasl_mechanism,
                    "sasl_plain_username": settings.kafka_sasl_username,
                    "sasl_plain_password": settings.kafka_sasl_password.get_secret_value()}
    if settings.kafka_security_protocol.endswith("SSL"):
        cafile = str(settings.kafka_ssl_cafile) if settings.kafka_ssl_cafile else None
        options["ssl_context"] = create_ssl_context(cafile=cafile)
    return options


def admin_client(settings: Settings, **options) -> AIOKafkaAdminClient:
    return AIOKafkaAdminClient(**client_options(settings), **options)


def consumer(settings: Settings, group_id: str, *topics: str, **options) -> AIOKafkaConsumer:
    return AIOKafkaConsumer(
        *topics,
        **client_options(settings),
        group_id=group_id,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        isolation_level="read_committed",
        max_poll_records=settings.batch_max_records,
        # aiokafka keeps one fetch in flight per broker: a long broker-side wait on idle
        # partitions would hold back records that arrive meanwhile on the others.
        fetch_max_wait_ms=settings.fetch_max_wait_ms,
        **options,
    )


def transactional_id(name: str, instance_id: str, slot: int = 0) -> str:
    return f"{name}-{instance_id}" + (f"-{slot}" if slot else "")


def transactional_producer(settings: Settings, name: str, slot: int = 0) -> AIOKafkaProducer:
    return AIOKafkaProducer(
        **client_options(settings),
        transactional_id=transactional_id(name, settings.instance_id, slot),
        enable_idempotence=True,
        retry_backoff_ms=settings.retry_backoff_ms,
        max_request_size=4 * 1024 * 1024,
        max_batch_size=1024 * 1024,  # `send_batched` fills one batch per partition
    )


class TransactionalPublisher:
    """Publishes outputs and consumer offsets in one Kafka transaction, retrying with back-off
    until the broker takes it.

    Transactions take turns over `settings.transactional_producers` producers: a transaction
    begun on the producer whose commit just returned meets "concurrent transactions" while that
    commit's markers are written, and waits a back-off; the next producer in turn has none
    pending. One `publish` at a time, as its callers do: each transaction then begins after the
    one before it committed, so records keep their order, and of two offset commits the group
    coordinator keeps the one written later, whichever transaction's markers land first.

    When the broker goes away mid-transaction, aiokafka's sender can die and leave the producer
    in a fatal state from which it begins no transaction again; such a producer is replaced by a
    new one with the same transactional id, whose start fences the old one and aborts what it
    left open."""

    def __init__(self, settings: Settings, name: str, on_retry=None, on_stage=None) -> None:
        """`on_stage(name, seconds)` hears how long each phase of a transaction took."""
        self._settings, self._name, self._on_retry = settings, name, on_retry
        self._on_stage = on_stage or (lambda name, seconds: None)
        self._producers = [transactional_producer(settings, name, slot)
                           for slot in range(settings.transactional_producers)]
        self._turn = 0
        self._broken = False

    @property
    def producer(self) -> AIOKafkaProducer:
        """The producer the next transaction begins on."""
        return self._producers[self._turn]

    @property
    def producers(self) -> tuple[AIOKafkaProducer, ...]:
        return tuple(self._producers)

    async def start(self) -> None:
        await asyncio.gather(*(p.start() for p in self._producers))

    async def stop(self) -> None:
        await asyncio.gather(*(p.stop() for p in self._producers))

    async def publish(self, outputs: list[Output], offsets: dict, group_id: str) -> None:
        delay = 0.2
        while True:
            try:
                if self._broken or self._fatal():
                    await self._renew()
                began = time.perf_counter()
                async with self.producer.transaction():
                    await send_batched(self.producer, outputs)
                    sent = time.perf_counter()
                    await self.producer.send_offsets_to_transaction(offsets, group_id)
                    offsets_sent = time.perf_counter()
                self._on_stage("kafka_send", sent - began)
                self._on_stage("kafka_offsets", offsets_sent - sent)
                self._on_stage("kafka_commit", time.perf_counter() - offsets_sent)
                self._turn = (self._turn + 1) % len(self._producers)
                return
            except Exception as error:
                if not (self._broken or self._fatal() or isinstance(error, KafkaError)):
                    raise
                log.warning("publishing failed, retrying: %r", error)
                if self._on_retry:
                    self._on_retry()
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)

    def _fatal(self) -> bool:
        # aiokafka keeps this state private; its own transaction context reads it the same way.
        return self.producer._txn_manager.is_fatal_error()

    async def _renew(self) -> None:
        self._broken = True  # until a new producer has started
        log.warning("the transactional producer can begin no transaction again; starting a new one")
        try:
            await self.producer.stop()
        except Exception as error:  # it is being replaced because it is broken
            log.info("the broken producer did not stop cleanly: %r", error)
        self._producers[self._turn] = transactional_producer(self._settings, self._name, self._turn)
        await self.producer.start()
        self._broken = False


_PARTITIONER = DefaultPartitioner()


async def send_batched(producer: AIOKafkaProducer, outputs: list[Output]) -> None:
    """Queue the outputs as record batches, one per partition (a batch per record costs a
    future and a queue round each), in order within each partition, partitioned by key as
    `send` does."""
    partitions: dict[str, list[int]] = {}
    builders: dict[tuple[str, int], object] = {}
    for o in outputs:
        if o.topic not in partitions:
            partitions[o.topic] = sorted(await producer.partitions_for(o.topic))
        partition = _PARTITIONER(o.key, partitions[o.topic], partitions[o.topic])
        builder = builders.get((o.topic, partition))
        if builder is None:
            builder = builders[(o.topic, partition)] = producer.create_batch()
        if builder.append(timestamp=None, key=o.key, value=o.value, headers=o.kafka_headers()) is None:
            await _hand_over(producer, builder, o.topic, partition)  # full: the next one
            builder = builders[(o.topic, partition)] = producer.create_batch()
            builder.append(timestamp=None, key=o.key, value=o.value, headers=o.kafka_headers())
    for (topic, partition), builder in builders.items():
        await _hand_over(producer, builder, topic, partition)


async def _hand_over(producer: AIOKafkaProducer, builder, topic: str, partition: int) -> None:
    builder.close()  # complete: sent at once, where an open batch waits out `linger_ms`
    await producer.send_batch(builder, topic, partition=partition)


def plain_producer(settings: Settings, **options) -> AIOKafkaProducer:
    return AIOKafkaProducer(
        **client_options(settings), enable_idempotence=True, **options
    )


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    configs: dict[str, str]
    replicas: int = 1


def registry_specs(settings: Settings, party_topics: list[str] = ()) -> list[TopicSpec]:
    """The registry's topics and any per-party answer topics, each with its role's configs."""
    named = {**registry.topic_roles(settings), **{name: "party_answers" for name in party_topics}}
    return [TopicSpec(name, settings.partitions, topics.configs(role, settings), settings.replication_factor)
            for name, role in named.items()]


async def ensure_topics(settings: Settings, extra: list[str] = ()) -> list[str]:
    """Create every topic of the registry (and the per-party answer topics `extra`) that does not
    exist yet, and give those that exist their role's configs; returns the topics created."""
    admin = admin_client(settings)
    await admin.start()
    try:
        return await apply_topics(admin, registry_specs(settings, extra))
    finally:
        await admin.close()


async def apply_topics(admin: AIOKafkaAdminClient, specs: list[TopicSpec]) -> list[str]:
    """Create the missing topics with their configs; align the configs of the others, so that a
    cluster prepared by an earlier version gets them too. Returns the topics created."""
    existing = set(await admin.list_topics())
    missing = [spec for spec in specs if spec.name not in existing]
    created = []
    if missing:
        response = await admin.create_topics(
            [NewTopic(s.name, s.partitions, s.replicas, topic_configs=s.configs) for s in missing])
        for name, code, message in _errors(response.topic_errors):
            if code == TopicAlreadyExistsError.errno:  # created meanwhile by another preparer
                existing.add(name)
            elif code:
                raise for_code(code)(f"topic {name} could not be created: {message}")
            else:
                created.append(name)
    await align_configs(admin, [spec for spec in specs if spec.name in existing])
    return created


# DescribeConfigs' config_source: an override set on the topic itself.
_TOPIC_OVERRIDE = 1


async def align_configs(admin: AIOKafkaAdminClient, specs: list[TopicSpec],
                        wait_seconds: float = 10.0) -> list[str]:
    """Give existing topics the configs of their specs; returns the topics changed.

    A topic created a moment ago may not be known yet to the broker asked (brokers learn new
    topics from the controller shortly after it accepts them): asked again until `wait_seconds`."""
    deadline = asyncio.get_running_loop().time() + wait_seconds
    while True:
        try:
            return await _align_configs(admin, specs)
        except UnknownTopicOrPartitionError:
            if asyncio.get_running_loop().time() > deadline:
                raise
            await asyncio.sleep(0.1)


async def _align_configs(admin: AIOKafkaAdminClient, specs: list[TopicSpec]) -> list[str]:
    """aiokafka speaks the (non-incremental) AlterConfigs API, which replaces every override of a
    topic: the overrides a topic has beyond its spec are read first and sent along, so that they
    stay."""
    if not specs:
        return []
    described = await admin.describe_configs(
        [ConfigResource(ConfigResourceType.TOPIC, spec.name) for spec in specs])
    overrides: dict[str, dict[str, str]] = {}
    for response in described:
        for code, message, _type, name, entries in response.resources:
            if code:
                raise for_code(code)(f"configs of topic {name} could not be read: {message}")
            overrides[name] = {key: value for key, value, _ro, source, *_ in entries
                               if source == _TOPIC_OVERRIDE}
    changed = [ConfigResource(ConfigResourceType.TOPIC, spec.name, overrides[spec.name] | spec.configs)
               for spec in specs if spec.configs.items() - overrides[spec.name].items()]
    if not changed:
        return []
    for response in await admin.alter_configs(changed):
        for code, message, _type, name in response.resources:
            if code:
                raise for_code(code)(f"configs of topic {name} could not be changed: {message}")
    names = [resource.name for resource in changed]
    log.info("topic configs aligned: %s", ", ".join(names))
    return names


def _errors(topic_errors) -> list[tuple[str, int, str | None]]:
    """CreateTopics answers (name, code) or (name, code, message) per topic, by version."""
    return [(entry[0], entry[1], entry[2] if len(entry) > 2 else None) for entry in topic_errors]
