"""The latency benches' same-run ceiling and floor: hops that pass each request on unchanged, as
separate processes: request topic -> hop A -> middle topic -> hop B -> response topic for the
end-to-end bench, request topic -> hop A -> command topic for intake's.

`transactional`: each hop is the platform's own kernel (`shared.processor.Processor`: the same
consumer and producer settings, batching, pipelining and Kafka transaction of records and offsets)
with the database taken out. `plain`: each hop consumes, produces with an idempotent producer and
commits offsets plainly once the batch is acknowledged, with no transaction: a floor for the p99
(it reads again only after each commit, so its p50 can be above the kernel's).

    python -m tests.bench.echo transactional|plain SOURCE TARGET GROUP   (settings from SMI_*)
"""
import asyncio
import contextlib
import subprocess
import sys
from functools import partial
from pathlib import Path

from shared import kafka
from shared.duis import codec
from shared.kafka import Output
from shared.processor import Processor
from shared.service import run_processors
from shared.settings import Settings
from tests.bench.openloop import LatencyBook, offer
from tests.bench.workload import Record, stop_processes
from tests.support import REPO_ROOT, drop_database, isolated_settings, service_env


class NoDatabase:
    """Stands in for the pool and its connections: the kernel's SQL finds nothing and saves nothing."""

    @contextlib.asynccontextmanager
    async def acquire(self):
        yield self

    @contextlib.asynccontextmanager
    async def transaction(self):
        yield

    async def fetch(self, *args):
        return []

    async def fetchval(self, *args):
        return None

    async def execute(self, *args):
        return None

    async def copy_records_to_table(self, *args, **kwargs):
        return None


async def _pass_on(target: str, conn, records) -> list[list[Output]]:
    return [[Output(target, r.value, r.key, tuple((k, v.decode()) for k, v in r.headers))] for r in records]


async def transactional(settings: Settings, source: str, target: str, group: str, stop: asyncio.Event) -> None:
    hop = Processor(service="echo", group_id=group, topics=[source], handler=partial(_pass_on, target),
                    pool=NoDatabase(), settings=settings, schema="echo")
    await run_processors([hop], stop)


async def plain(settings: Settings, source: str, target: str, group: str, stop: asyncio.Event) -> None:
    consumer = kafka.consumer(settings, group + settings.group_suffix, source)
    producer = kafka.plain_producer(settings, linger_ms=2, max_batch_size=1024 * 1024)
    await consumer.start()
    await producer.start()
    try:
        while not stop.is_set():
            batch = await consumer.getmany(timeout_ms=200)
            sent = [await producer.send(target, r.value, key=r.key, headers=list(r.headers))
                    for part in batch.values() for r in part]
            if sent:
                await asyncio.gather(*sent)
                await consumer.commit({tp: part[-1].offset + 1 for tp, part in batch.items()})
    finally:
        await consumer.stop()
        await producer.stop()


async def offered_to_echo(bootstrap: str, database_url: str, mode: str, hops: int, plan: list[Record],
                          rate: float, logs: Path) -> LatencyBook:
    """The plan offered at `rate` to an echo of one or two hops, on topics of its own."""
    settings = await isolated_settings(bootstrap, database_url)
    topics = settings.topics
    chain = (("a", topics.requests, topics.inventory_commands),
             ("b", topics.inventory_commands, topics.responses))[:hops]
    answers = [chain[-1][2]]
    processes = [subprocess.Popen([sys.executable, "-m", "tests.bench.echo", mode, source, target, f"smi-echo-{name}"],
                                  cwd=REPO_ROOT, env=service_env(settings), stderr=subprocess.STDOUT,
                                  stdout=open(logs / f"echo-{mode}-{hops}-{name}.log", "ab"))
                 for name, source, target in chain]
    try:
        # Every hop has joined its group once a first record makes it through.
        probe = Record(b"probe", b'{"Header": {"RequestID": "probe"}}', "application/json", request_id="probe")
        answered = await offer(bootstrap, topics.requests, [probe], 1, answers, 60, identify=_echoed)
        if answered.unanswered(["probe"]):
            raise RuntimeError(f"the {mode} echo passed nothing on within 60 s (logs in {logs})")
        return await offer(bootstrap, topics.requests, plan, rate, answers, 30, identify=_echoed)
    finally:
        stop_processes(processes)
        await drop_database(settings, database_url)


def _echoed(record) -> tuple[str, str | None]:
    return codec.guess_request_id(record.value), "I0"


async def _main(mode: str, source: str, target: str, group: str) -> None:
    import signal
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await {"transactional": transactional, "plain": plain}[mode](Settings(), source, target, group, stop)


if __name__ == "__main__":
    asyncio.run(_main(*sys.argv[1:5]))
