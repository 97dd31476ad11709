"""Probes that tell whether Kafka, PostgreSQL and the services answer, callable with or without a
running event loop."""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import socket
import urllib.error
import urllib.request
from collections.abc import Coroutine
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient


def run_coroutine(coro: Coroutine[Any, Any, Any]) -> Any:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


def tcp_open(port: int, host: str = "127.0.0.1") -> bool:
    try:
        with socket.create_connection((host, port), timeout=1.0):
            return True
    except OSError:
        return False


async def _list_topics(bootstrap: str, brokers: int = 1, **client_options: Any) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=5000, **client_options)
    await admin.start()
    try:
        await admin.list_topics()
        if brokers > 1:
            described = await admin.describe_cluster()
            if len(described["brokers"]) < brokers:
                raise RuntimeError(f"{len(described['brokers'])} of {brokers} brokers registered")
    finally:
        await admin.close()


def kafka_answers(bootstrap: str, timeout: float = 8.0, brokers: int = 1, **client_options: Any) -> bool:
    """Kafka answers metadata requests, with at least `brokers` brokers in its cluster."""
    noisy = logging.getLogger("aiokafka")
    level = noisy.level
    noisy.setLevel(logging.CRITICAL)
    try:
        run_coroutine(asyncio.wait_for(_list_topics(bootstrap, brokers, **client_options), timeout))
        return True
    except Exception:
        return False
    finally:
        noisy.setLevel(level)


def service_ready(port: int, host: str = "127.0.0.1") -> tuple[bool, str]:
    """Whether a service answers `GET /ready` on its metrics port with 200, and what it said:
    the parts it waits for, or why it did not answer."""
    try:
        with urllib.request.urlopen(f"http://{host}:{port}/ready", timeout=3) as reply:
            return reply.status == 200, reply.read().decode()
    except urllib.error.HTTPError as error:  # 503: up, but some part is not there yet
        return False, error.read().decode()
    except OSError as error:
        return False, f"no answer on port {port}: {error}"
