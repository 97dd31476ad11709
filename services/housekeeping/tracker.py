"""The faust app: a table of Pending devices keyed by Device ID, fed by inventory's device events,
and the per-partition work (runs, forecasts, retention reports) that scans it.

A run reaches every partition the faust way: the run message is fanned out to every partition of
an internal work topic with as many partitions as the device events, so faust's co-partitioning
assignor gives work partition p to the worker that holds table partition p, and that worker scans
only its own entries. Each work message carries where partition p's committed device events ended
when it was fanned out; the work waits until the table holds them (coverage.py). Delivery is at
least once; every effect of the work is idempotent.
"""
import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime

import faust
import orjson
from aiokafka import AIOKafkaProducer
from pydantic import ValidationError

from services.housekeeping import metrics
from services.housekeeping.config import HousekeepingSettings, app_id
from services.housekeeping.coverage import EventEnds, Progress
from services.housekeeping.entries import parse_event
from services.housekeeping.faust_safety import commit_log_starts
from services.housekeeping.handlers import PartitionWork, parse_run_request
from services.housekeeping.table import reader, size, writer
from services.housekeeping.work import Run, Work, parse as parse_work
from shared import topics
from shared.kafka import TopicSpec, admin_client, apply_topics, client_options
from shared.processor import TRANSIENT
from shared.settings import Settings

log = logging.getLogger(__name__)


def broker_credentials(settings: Settings) -> faust.SASLCredentials | None:
    """The platform's Kafka security settings in faust's terms (None: plaintext)."""
    options = client_options(settings)
    if "sasl_mechanism" not in options:
        return None
    return faust.SASLCredentials(username=options["sasl_plain_username"],
                                 password=options["sasl_plain_password"],
                                 mechanism=options["sasl_mechanism"],
                                 ssl_context=options.get("ssl_context"))


class Tracker:
    def __init__(self, settings: Settings, config: HousekeepingSettings, work: PartitionWork,
                 producer: AIOKafkaProducer, clock: Callable[[], datetime]) -> None:
        self.settings, self.work, self.producer, self.clock = settings, work, producer, clock
        self.partitions = settings.partitions
        if not 0 < self.partitions < 256:
            raise ValueError("housekeeping packs the partition in one byte: 1 to 255 partitions")
        name = app_id(settings)
        (config.data_dir / name).mkdir(parents=True, exist_ok=True)
        self.app = faust.App(
            name, broker=[f"kafka://{s}" for s in settings.kafka_bootstrap_servers.split(",")],
            broker_credentials=broker_credentials(settings),
            store=config.table_store, web_enabled=False, datadir=str(config.data_dir / name),
            topic_partitions=self.partitions, topic_replication_factor=settings.replication_factor,
            consumer_auto_offset_reset="earliest", stream_buffer_maxsize=16_384,
            broker_max_poll_records=2_000, producer_linger_ms=5,
            broker_session_timeout=10.0, broker_heartbeat_interval=3.0,
        )
        raw = dict(key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw")
        self.devices = self.app.Table("pending-devices", partitions=self.partitions,
                                      key_type=bytes, value_type=bytes)  # bytes: raw in every store
        self.work_topic = self.app.topic(f"{name}-partition-work", partitions=self.partitions,
                                         internal=True, **raw)
        events = self.app.topic(settings.topics.device_events, **raw)
        runs = self.app.topic(settings.topics.housekeeping_runs, **raw)
        self.app.agent(events, name=f"{name}.track")(self._track)
        self.app.agent(runs, name=f"{name}.runs")(self._fan_out_runs)
        self.app.agent(self.work_topic, name=f"{name}.work")(self._partition_work)
        self.app.timer(config.run_interval_seconds, on_leader=True)(self._scheduled_run)
        self.app.on_partitions_revoked.connect(self._revoked)
        self.ends, self.progress = EventEnds(settings), Progress(settings, name)

    async def open(self) -> None:
        """Before faust starts (see faust_safety)."""
        inputs = [self.settings.topics.device_events, self.settings.topics.housekeeping_runs,
                  self.work_topic.get_topic_name()]
        if committed := await commit_log_starts(self.settings, self.app.conf.id, inputs):
            log.info("new consumer group %s: log start committed on %d partitions", self.app.conf.id, committed)
        await self.ends.start()
        await self.progress.start()

    async def close(self) -> None:
        await self.ends.stop()
        await self.progress.stop()

    async def create_topics(self) -> None:
        """faust creates its own topics when it starts, which on a new cluster is after its first
        partition assignment: the worker would never be given the work topic. Create them first,
        with the platform's configs (faust would leave them to the broker's default retention)."""
        leader = f"{self.app.conf.id}-__assignor-__leader"  # faust.assignor.LeaderAssignor's
        replicas = self.settings.replication_factor
        specs = [
            TopicSpec(self.work_topic.get_topic_name(), self.partitions,
                      topics.configs("partition_work", self.settings), replicas),
            TopicSpec(self.devices.changelog_topic.get_topic_name(), self.partitions,
                      topics.configs("table_changelog", self.settings), replicas),
            TopicSpec(leader, 1, topics.configs("faust_leader", self.settings), replicas),
        ]
        admin = admin_client(self.settings)
        await admin.start()
        try:
            await apply_topics(admin, specs)
        finally:
            await admin.close()

    def entries(self, partition: int):
        return reader(self.devices.data)(partition)

    def size(self) -> int:
        return size(self.devices.data)

    async def _track(self, stream) -> None:
        # In batches: faust's per-event machinery, not this code, bounds the ingestion rate.
        # Each change goes to the changelog partition of its own event, as Table.__setitem__
        # would send it, so that a table partition always moves with its device events.
        applied, write = self.progress.applied, writer(self.devices.data)
        async for events in stream.take_events(2_000, within=0.05):
            for event in events:
                applied[event.message.partition] = event.message.offset + 1
                try:
                    change = parse_event(event.message.partition, event.value)
                except ValueError as error:
                    await self.work.dead_letter(event.message, f"not a device event: {error}")
                    continue
                if change is None:
                    continue
                key, entry = change
                if not write(event.message.partition, key, entry):
                    continue
                self.devices.send_changelog(event.message.partition, key, entry, value_serializer="raw")
            metrics.TRACKED_EVENTS.inc(len(events))

    async def _fan_out_runs(self, stream) -> None:
        async for event in stream.events():
            try:
                as_of = parse_run_request(event.value)
            except ValueError as error:
                await self.work.dead_letter(event.message, str(error))
                continue
            log.info("housekeeping run as of %s", as_of.isoformat())
            await self.fan_out(Run(as_of=as_of, policy=self.work.policy.current))

    async def fan_out(self, message: Work) -> None:
        """One work message per partition, each with the end of its committed device events."""
        ends = await self.ends.now()
        for partition in range(self.partitions):
            await self.producer.send(self.work_topic.get_topic_name(), message.for_partition(ends[partition]),
                                     partition=partition)
        await self.producer.flush()

    async def _partition_work(self, stream) -> None:
        async for event in stream.events():
            partition = event.message.partition
            try:
                message = parse_work(event.value)
            except ValueError as error:
                await self.work.dead_letter(event.message, f"unusable partition work: {error!r}")
                continue
            covered = await self.progress.wait(partition, message.events_end, lambda: self._keeps(partition))
            if covered is None:
                await self._requeue(event)
                continue
            delay = 0.2
            while True:
                try:
                    await self.work.handle(partition, message, covered, lambda: self.entries(partition))
                except (ValueError, KeyError, TypeError, ValidationError) as error:
                    await self.work.dead_letter(event.message, f"unusable partition work: {error!r}")
                except TRANSIENT as error:  # the work is retried, never skipped
                    log.warning("database unavailable, retrying partition work: %s", error)
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 5.0)
                    continue
                break

    def _keeps(self, partition: int) -> bool:
        """The work of this partition may still finish here: the partition is still ours and its
        events still flow. faust stops the flow when a rebalance begins or the worker stops, and
        then waits for every message in hand: waiting on would hold up both for good."""
        tp = (self.work_topic.get_topic_name(), partition)
        consumer = self.app.consumer
        return consumer.flow_active and not self.app.rebalancing and tp in consumer.assignment()

    async def _requeue(self, event) -> None:
        """Work that cannot wait here any longer goes back on its partition, for whoever owns it
        next: faust commits its offset before the rebalance or the stop, so dropping it would lose it."""
        log.info("partition %d moves or stops while its work waits: work put back", event.message.partition)
        await self.producer.send(self.work_topic.get_topic_name(), event.value,
                                 partition=event.message.partition)
        await self.producer.flush()
        metrics.WORK_REQUEUED.inc()

    async def _revoked(self, sender, revoked, **kwargs) -> None:
        self.progress.forget({tp.partition for tp in revoked if tp.topic == self.settings.topics.device_events})

    async def _scheduled_run(self) -> None:
        as_of = self.clock().astimezone(UTC)
        await self.producer.send(self.settings.topics.housekeeping_runs,
                                 orjson.dumps({"as_of": as_of.isoformat()}))
