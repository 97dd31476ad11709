"""The hostile-input corpus (tests/hostile) through intake, inventory and returns over the real
broker and database: every case gets exactly its response code or a dead letter, no service
falls over, and a valid request sent after the corpus is answered as quickly as one sent before."""
import asyncio
import statistics
import time
from collections import defaultdict

import orjson
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.structs import ConsumerRecord

from services.intake.app import serve as intake
from services.inventory.app import serve as inventory
from services.returns.app import serve as returns
from shared.duis import build, codec
from shared.settings import Settings
from tests.hostile import corpus
from tests.hostile.corpus import DEVICES
from tests.support import CSP_NORTH, SUPPLIER, SUPPLIER_2, running

pytestmark = pytest.mark.integration

HANDLER_FAILED = "the handler failed on this record"
CORPUS_TIMEOUT = 300.0


class Watch:
    """Every committed response and dead letter, read as they come, by RequestID and by key."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.responses: dict[str, list[ConsumerRecord]] = defaultdict(list)
        self.dead_letters: list[ConsumerRecord] = []
        self._consumer = AIOKafkaConsumer(
            settings.topics.responses, settings.topics.dead_letters,
            bootstrap_servers=settings.kafka_bootstrap_servers, isolation_level="read_committed",
            enable_auto_commit=False, auto_offset_reset="earliest")
        self._task: asyncio.Task | None = None

    async def __aenter__(self) -> "Watch":
        await self._consumer.start()
        self._task = asyncio.create_task(self._read())
        return self

    async def __aexit__(self, *exc) -> None:
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)
        await self._consumer.stop()

    async def _read(self) -> None:
        while True:
            batch = await self._consumer.getmany(timeout_ms=100)
            for record in (r for part in batch.values() for r in part):
                if record.topic == self.settings.topics.dead_letters:
                    self.dead_letters.append(record)
                else:
                    self.responses[header(record, "request-id")].append(record)

    async def until(self, condition, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                return False
            await asyncio.sleep(0.05)
        return True


def header(record: ConsumerRecord, name: str) -> str | None:
    return next((v.decode() for k, v in record.headers if k == name), None)


def code_of(record: ConsumerRecord) -> str:
    return codec.read(record.value)["Header"]["ResponseCode"]


def hub_codes(record: ConsumerRecord) -> dict[str, str]:
    results = codec.read(record.value)["Body"]["ResponseMessage"]["CHFReturnResults"]["HubResult"]
    return {r["DeviceID"]: r["ResponseCode"] for r in (results if isinstance(results, list) else [results])}


def delivered(chf: str, ordering_party: str) -> bytes:
    return orjson.dumps({"type": "CommsHubDelivered", "chf_id": chf, "gpf_id": "00-CD" + chf[5:],
                         "csp_id": CSP_NORTH, "ordering_party": ordering_party, "csp_region": "North",
                         "manufacturer": "ACME", "model": "CH-1"})


async def set_up_devices(bus, watch: Watch, settings: Settings) -> None:
    """The devices the corpus names: two ESMEs pre-notified, five hubs delivered."""
    topics = settings.topics
    hubs = {"OWN_HUB": SUPPLIER, "OWN_HUB_2": SUPPLIER,
            "THEIRS_HUB": SUPPLIER_2, "THEIRS_HUB_2": SUPPLIER_2, "THEIRS_HUB_3": SUPPLIER_2}
    for hub, party in hubs.items():
        await bus.send(topics.csp_events, delivered(DEVICES[hub], party))
    for esme, party in [("OWN_ESME", SUPPLIER), ("THEIRS_ESME", SUPPLIER_2)]:
        await bus.send(topics.requests, build.request(party, 1, "12.2", build.prenotification(DEVICES[esme])))
    await bus.read(topics.device_events, count=2 * len(hubs) + 2, timeout=60)
    ids = [build.request_id(p, 1) for p in (SUPPLIER, SUPPLIER_2)]
    assert await watch.until(lambda: all(watch.responses[i] for i in ids), 60)
    assert [code_of(watch.responses[i][0]) for i in ids] == ["I0", "I0"]


class TimedReads:
    """Valid Read Inventory requests, one at a time: each answer's status and how long it took."""

    def __init__(self, bus, watch: Watch, settings: Settings) -> None:
        self.bus, self.watch, self.settings = bus, watch, settings
        self.counter = 10
        self.request_ids: set[str] = set()

    async def read(self, party: str, device: str) -> tuple[str, float]:
        self.counter += 1
        request_id = build.request_id(party, self.counter)
        self.request_ids.add(request_id)
        raw = build.request(party, self.counter, "8.2", {"DeviceID": device}, "json")
        started = time.monotonic()
        await self.bus.send(self.settings.topics.requests, raw, headers={"content-type": "application/json"})
        await self.bus.flush()
        assert await self.watch.until(lambda: self.watch.responses[request_id], 60), "a valid request went unanswered"
        took = time.monotonic() - started
        answer = orjson.loads(self.watch.responses[request_id][0].value)
        assert answer["Header"]["ResponseCode"] == "I0", answer
        return answer["Body"]["ResponseMessage"]["DSPInventory"]["Device"][0]["DeviceStatus"], took

    async def round(self) -> list[tuple[str, float]]:
        return [await self.read(SUPPLIER_2, DEVICES["THEIRS_ESME"]),
                await self.read(SUPPLIER_2, DEVICES["THEIRS_HUB"]),
                await self.read(SUPPLIER, DEVICES["OWN_ESME"]),
                await self.read(SUPPLIER, DEVICES["OWN_HUB_2"])]


async def send_corpus(settings: Settings, cases: list[corpus.Case]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers, linger_ms=5,
                                max_request_size=4 * 1024 * 1024)
    await producer.start()
    try:
        for case in cases:
            await producer.send(settings.topics.requests, case.payload, key=case.key, headers=list(case.headers))
        await producer.flush()
    finally:
        await producer.stop()


def mismatches(cases: list[corpus.Case], watch: Watch, own_request_ids: set[str]) -> list[str]:
    """Every way the outcomes differ from the corpus, one line each."""
    expected_ids = own_request_ids | {c.request_id for c in cases if c.request_id}
    found = [f"unexpected response {code_of(records[0])} to {request_id!r:.80}"
             for request_id, records in watch.responses.items() if records and request_id not in expected_ids]
    letters = defaultdict(list)
    for record in watch.dead_letters:
        letters[record.key].append(record)
    for case in cases:
        answers = watch.responses.get(case.request_id, []) if case.request_id else []
        dead = letters.pop(case.key, [])
        if case.expect == corpus.DEAD_LETTER:
            if len(dead) != 1 or answers:
                found.append(f"{case.name}: {len(dead)} dead letters and {len(answers)} responses, expected one dead letter")
            elif header(dead[0], "dlq-service") != "intake" or header(dead[0], "dlq-reason") == HANDLER_FAILED:
                found.append(f"{case.name}: dead-lettered by a failure: {header(dead[0], 'dlq-reason')}")
            continue
        got = [code_of(r) for r in answers]
        if got != [case.expect] or dead:
            reasons = [header(d, "dlq-reason") for d in dead]
            found.append(f"{case.name}: got responses {got} and dead letters {reasons}, expected [{case.expect}]")
        elif case.hubs and hub_codes(answers[0]) != case.hubs:
            found.append(f"{case.name}: hubs got {hub_codes(answers[0])}, expected {case.hubs}")
    for key, records in letters.items():
        found.append(f"unexpected dead letter {key!r:.60} from {header(records[0], 'dlq-service')}: "
                     f"{header(records[0], 'dlq-reason')}")
    return found


async def test_every_hostile_input_gets_its_code_and_the_services_keep_their_pace(settings, bus):
    settings = settings.model_copy(update={"returns_overdue_check_seconds": 0})
    cases = corpus.load(settings.max_request_bytes)
    answered = [c.request_id for c in cases if c.expect != corpus.DEAD_LETTER]
    dead_keys = {c.key for c in cases if c.expect == corpus.DEAD_LETTER}
    async with Watch(settings) as watch, running(intake, settings) as intake_task, \
            running(inventory, settings) as inventory_task, running(returns, settings) as returns_task:
        await set_up_devices(bus, watch, settings)
        reads = TimedReads(bus, watch, settings)
        await reads.round()  # warm-up: every consumer has its partitions and its first batch done
        before = await reads.round()

        started = time.monotonic()
        await send_corpus(settings, cases)
        complete = await watch.until(
            lambda: all(watch.responses.get(i) for i in answered)
            and dead_keys <= {r.key for r in watch.dead_letters}, CORPUS_TIMEOUT)
        corpus_seconds = time.monotonic() - started
        await asyncio.sleep(3.0)  # any second response or stray dead letter shows up meanwhile

        after = await reads.round()
        running_after = [not t.done() for t in (intake_task, inventory_task, returns_task)]

    set_up_ids = {build.request_id(party, 1) for party in (SUPPLIER, SUPPLIER_2)}
    problems = mismatches(cases, watch, set_up_ids | reads.request_ids)
    assert complete and not problems, "\n".join(problems) or "the corpus was not all answered in time"
    assert running_after == [True, True, True], "every service is still running"
    assert [status for status, _ in before] == [status for status, _ in after] == ["Pending"] * 4, \
        "no hostile request changed the devices it aimed at"
    typical = statistics.median(took for _, took in before)
    slowest = max(took for _, took in after)
    print(f"\n{len(cases)} hostile cases answered in {corpus_seconds:.1f} s; a valid request took "
          f"{typical * 1000:.0f} ms before them and at most {slowest * 1000:.0f} ms after")
    assert slowest <= 5 * typical + 2.0, f"a valid request took {slowest:.2f} s after the corpus, {typical:.2f} s before"
