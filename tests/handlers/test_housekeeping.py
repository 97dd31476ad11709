"""Housekeeping's table of partition work (run, forecast, retention) and its confirmed-removal
handler, given / when / then, over PostgreSQL alone: the messages are the typed ones the tracker
and the API fan out, and the producer is a recorder, not a broker."""
import contextlib

import orjson
import pytest

from services.housekeeping import entries, work
from services.housekeeping.domain import Policy, TrackedDevice, removal_command_id
from services.housekeeping.handlers import PartitionWork, handle_removals
from services.housekeeping.policy import RunningPolicy
from shared.dispatch import MissingHandler
from shared.duis.build import device_id
from shared.messages import DeviceEvent
from tests.handlers.harness import Harness, RegistryFile, at

SUPPLIER = "90-B3-D5-1F-30-01-00-00"
POLICY = Policy(version="2024-01", default_months=12)
METER, HUB = device_id(1), device_id(2)


class Recorder:
    """Stands in for the Kafka producer: what was sent, in order."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes, bytes | None]] = []

    async def send(self, topic: str, value: bytes, key: bytes | None = None, **_) -> None:
        self.sent.append((topic, value, key))

    async def flush(self) -> None:
        pass


class OneConnection:
    """A pool that always lends the test's connection (its transaction is rolled back)."""

    def __init__(self, conn) -> None:
        self.conn = conn

    @contextlib.asynccontextmanager
    async def acquire(self):
        yield self.conn


@pytest.fixture
def partition_work(handler_settings, conn, tmp_path):
    policy_file = tmp_path / "policy.yaml"
    policy_file.write_text("version: '2024-01'\ndefault_months: 12\n")
    return PartitionWork(handler_settings, RunningPolicy(policy_file), OneConnection(conn), Recorder())


def table(*devices: TrackedDevice):
    return lambda: [(d.device_id.encode(), entries.pack(0, d)) for d in devices]


PENDING_METER = TrackedDevice(METER, "ESME", at("2023-01-01T00:00:00"), SUPPLIER, True, False)
PENDING_HUB = TrackedDevice(HUB, "CHF", at("2023-01-01T00:00:00"), SUPPLIER, True, False)


async def test_a_run_asks_inventory_to_remove_each_due_device_and_records_its_decisions(partition_work, conn):
    given = table(PENDING_METER, PENDING_HUB)
    await partition_work.handle(0, work.Run(as_of=at("2024-02-01T00:00:00"), policy=POLICY), 10, given)
    [(topic, value, key)] = partition_work.producer.sent
    removal = orjson.loads(value)
    assert topic == partition_work.settings.topics.inventory_commands and key == METER.encode()
    assert (removal["type"], removal["device_id"], removal["command_id"]) == (
        "RemoveDevice", METER, removal_command_id(METER, PENDING_METER.pending_since))
    row = await conn.fetchrow("select removals_requested, retained_excluded from housekeeping.runs")
    assert (row["removals_requested"], row["retained_excluded"]) == (1, 1)


async def test_a_forecast_saves_its_partitions_part(partition_work, conn):
    query = work.Forecast(query_id="q-1", policy=POLICY, start=at("2024-01-01T00:00:00"), end=at("2024-06-01T00:00:00"))
    await partition_work.handle(0, query, 0, table(PENDING_METER))
    [part] = await conn.fetch("select result from housekeeping.query_parts where query_id = 'q-1'")
    assert "removed" in orjson.loads(part["result"].encode())


async def test_a_retention_report_counts_the_excluded_hub(partition_work, conn):
    query = work.Retention(query_id="q-2", policy=POLICY, as_of=at("2024-06-01T00:00:00"))
    await partition_work.handle(0, query, 0, table(PENDING_METER, PENDING_HUB))
    [part] = await conn.fetch("select result from housekeeping.query_parts where query_id = 'q-2'")
    assert sum(orjson.loads(part["result"].encode())["kept"].values()) == 1


def test_partition_work_of_an_unknown_kind_or_a_naive_instant_is_unusable():
    with pytest.raises(ValueError):
        work.parse(b'{"kind": "purge", "policy": {"version": "v"}}')
    with pytest.raises(ValueError, match="UTC offset"):
        work.parse(b'{"kind": "run", "policy": {"version": "v"}, "as_of": "2024-01-01T00:00:00"}')


def test_partition_work_without_a_handler_for_a_kind_refuses_to_start(partition_work, monkeypatch):
    monkeypatch.setattr(work, "KINDS", (*work.KINDS, "purge"))
    with pytest.raises(MissingHandler, match="purge"):
        PartitionWork(partition_work.settings, partition_work.policy, partition_work.pool, Recorder())


async def test_a_confirmed_removal_alerts_the_notifying_service_user_once(handler_settings, conn):
    removed = DeviceEvent(
        type="DeviceRemoved", event_id="e-1", device_id=METER, device_type="ESME", occurred_at=at("2024-02-01T00:00:00"),
        notifying_party=SUPPLIER, notifying_party_kind="service_user", cause="RemoveDevice",
        policy_version="2024-01", command_id=removal_command_id(METER, at("2023-01-01T00:00:00")))
    h = Harness(handler_settings, conn, lambda c, records: None)
    record = h.record(handler_settings.topics.device_events, removed, key=METER)
    registry = RegistryFile(handler_settings)
    first = await handle_removals(handler_settings, registry, conn, [record, record])
    again = await handle_removals(handler_settings, registry, conn, [h.record(handler_settings.topics.device_events,
                                                                               removed, key=METER)])
    assert [(o.topic, o.key, dict(o.headers)["alert-code"]) for o in first] == [
        (handler_settings.topics.alerts, SUPPLIER.encode(), "N8")]
    assert again == []
