"""Playing inventory's part for housekeeping tests: device events out, RemoveDevice answered."""
import asyncio
import contextlib
import time
import uuid
from datetime import datetime

from aiokafka import AIOKafkaConsumer, TopicPartition

from services.housekeeping.app import serve, wall_clock
from services.housekeeping.config import HousekeepingSettings, app_id
from shared.messages import DeviceEvent, RemoveDevice
from tests.support import CSP_NORTH, SUPPLIER

POLICY = """version: "{version}"
rule: {rule}
default_months: 12
months_by_type: {months}
excluded_types: [CHF, GPF]
"""


def write_policy(path, version="test-1", rule="all-pending", months="{}"):
    path.write_text(POLICY.format(version=version, rule=rule, months=months))
    return path


def device_id(n: int, prefix: str = "00-DB") -> str:
    return f"{prefix}-{(n >> 32) & 0xFF:02X}-{(n >> 24) & 0xFF:02X}-{(n >> 16) & 0xFF:02X}-" \
           f"{(n >> 8) & 0xFF:02X}-{n & 0xFF:02X}-A2"


def pending(device: str, device_type: str, since: datetime, *, party: str | None = None,
            ever_left_pending: bool = False, previous: str | None = None) -> DeviceEvent:
    hub = device_type in ("CHF", "GPF")
    party = party or (CSP_NORTH if hub else SUPPLIER)
    return DeviceEvent(
        type="DeviceStatusChanged" if previous else "DeviceAdded", event_id=uuid.uuid4().hex,
        device_id=device, device_type=device_type, status="Pending", previous_status=previous,
        status_since=since, occurred_at=since, notifying_party=party,
        notifying_party_kind="csp" if party == CSP_NORTH else "service_user",
        ever_left_pending=ever_left_pending, cause="12.2" if not hub else "CommsHubDelivered")


def changed(event: DeviceEvent, status: str, at: datetime) -> DeviceEvent:
    return event.model_copy(update={
        "type": "DeviceStatusChanged", "event_id": uuid.uuid4().hex, "previous_status": event.status,
        "status": status, "status_since": at, "occurred_at": at, "cause": "8.4",
        "ever_left_pending": event.ever_left_pending or status != "Pending"})


class FakeInventory:
    """Keeps the latest event per device; removes a device on RemoveDevice only while it is
    still Pending since the command's pending_since (as inventory does), else refuses; a device
    removed already is refused with its archived record, still Pending, as inventory does."""

    def __init__(self, settings, bus) -> None:
        self.settings, self.bus = settings, bus
        self.devices: dict[str, DeviceEvent] = {}
        self.archived: dict[str, DeviceEvent] = {}
        self.commands: list[RemoveDevice] = []
        self.answering = asyncio.Event()
        self.answering.set()
        self._task = None

    async def publish(self, *events: DeviceEvent) -> None:
        for event in events:
            self.devices[event.device_id] = event
            await self.bus.send(self.settings.topics.device_events, event.to_bytes(), key=event.device_id.encode())
        await self.bus.flush()

    async def __aenter__(self):
        self._task = asyncio.create_task(self._answer())
        return self

    async def __aexit__(self, *exc):
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task

    async def _answer(self) -> None:
        consumer = AIOKafkaConsumer(self.settings.topics.inventory_commands,
                                    bootstrap_servers=self.settings.kafka_bootstrap_servers,
                                    group_id=f"fake-inventory-{uuid.uuid4().hex[:6]}",
                                    auto_offset_reset="earliest", isolation_level="read_committed")
        await consumer.start()
        try:
            while True:
                batch = await consumer.getmany(timeout_ms=100)
                for record in [r for part in batch.values() for r in part]:
                    await self.answering.wait()
                    command = RemoveDevice.model_validate_json(record.value)
                    self.commands.append(command)
                    await self._remove(command)
        finally:
            await consumer.stop()

    async def _remove(self, command: RemoveDevice) -> None:
        current = self.devices.get(command.device_id) or self.archived.get(command.device_id)
        if current is None:
            return
        still_due = command.device_id in self.devices and current.status == "Pending" \
            and current.status_since == command.pending_since
        answer = current.model_copy(update={
            "type": "DeviceRemoved" if still_due else "RemovalRefused", "event_id": uuid.uuid4().hex,
            "previous_status": current.status, "status": None if still_due else current.status,
            "status_since": None if still_due else current.status_since, "occurred_at": command.as_of,
            "cause": "RemoveDevice", "command_id": command.command_id,
            "policy_version": command.policy_version, "reason": command.reason})
        if still_due:
            self.archived[command.device_id] = self.devices.pop(command.device_id)
        await self.bus.send(self.settings.topics.device_events, answer.to_bytes(),
                            key=command.device_id.encode())
        await self.bus.flush()


@contextlib.asynccontextmanager
async def housekeeping(settings, tmp_path, policy_file=None, clock=None, **config):
    """The service in this process; yields its Housekeeping object once faust has started."""
    config = HousekeepingSettings(policy_file=policy_file or write_policy(tmp_path / "policy.yaml"),
                                  data_dir=tmp_path / "faust", policy_poll_seconds=0.2, **config)
    stop, started = asyncio.Event(), asyncio.get_running_loop().create_future()
    task = asyncio.create_task(serve(settings, stop, config, clock=clock or wall_clock, started=started))
    done, _ = await asyncio.wait([task, started], return_when=asyncio.FIRST_COMPLETED)
    if task in done:
        task.result()
    try:
        yield started.result()
    finally:
        stop.set()
        await asyncio.wait_for(task, 60)


async def wait_tracked(service, count: int, timeout: float = 60.0) -> None:
    """Until the faust table holds `count` entries (the device events are in)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while service.tracker.size() != count:
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"table has {service.tracker.size()} entries, not {count}")
        await asyncio.sleep(0.1)




async def wait_ingested(settings, count: int, timeout: float) -> None:
    """Until the housekeeping worker's group has committed `count` device events."""
    deadline = time.monotonic() + timeout
    while await _committed(settings) < count:
        assert time.monotonic() < deadline, f"the worker did not ingest {count} device events in {timeout:.0f} s"
        await asyncio.sleep(0.5)


async def _committed(settings) -> int:
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap_servers, group_id=app_id(settings))
    await consumer.start()
    try:
        return sum([await consumer.committed(TopicPartition(settings.topics.device_events, p)) or 0
                    for p in range(settings.partitions)])
    finally:
        await consumer.stop()
