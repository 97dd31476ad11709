"""The devices one batch of Service Requests works on, read and written set-wise.

A batch's requests name their devices up front: they are read (and locked, in Device ID order)
with one query, and the changes and history rows the requests make are written with one
statement each when the batch is done, instead of a few round trips per request. Requests are
still decided one at a time, in order, against the latest state in this working set, so the
outcome is the one a request-at-a-time run would give. A read of the SMI outside the set (by
MPxN) calls `flush` first; a change outside it (commands, deletions) runs inside
`writing_directly`, which writes the set's changes before it and drops what it changed after it.

Devices entering the SMI are changes of the set too: a run of additions (`additions`) waits in
the set until something needs it applied (a read of one of its devices, a read outside the set,
a change made another way, or the end of the batch), so that the additions of a batch interleaved
with other requests are looked up and written together, and their history with the set's own.
The set remembers the devices it looked for and did not find, so that an addition of a device
named up front needs no look-up of its own.
"""
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager

import asyncpg

from services.inventory import store
from services.inventory.domain import Device
from services.inventory.store import History


# Applies the additions waiting in the set, given which of their devices are in the SMI already,
# and returns the history they make.
ApplyAdditions = Callable[[set[str]], Awaitable[list[History]]]


class WorkingSet:
    def __init__(self, apply_additions: ApplyAdditions) -> None:
        self._devices: dict[str, Device] = {}
        self._absent: set[str] = set()  # looked for and not in the SMI
        self._changed: dict[str, Device] = {}
        self._history: list[History] = []
        self._apply_additions = apply_additions
        self._adding: set[str] = set()  # the devices of the additions waiting

    async def load(self, conn: asyncpg.Connection, ids: set[str]) -> None:
        """Read (and lock) the named devices and the devices linked to them."""
        await self._read(conn, ids - self._devices.keys())
        linked = {d.linked_device_id for d in self._devices.values() if d.linked_device_id}
        await self._read(conn, linked - self._devices.keys())

    async def _read(self, conn: asyncpg.Connection, ids: set[str]) -> None:
        if ids:
            found = await store.devices(conn, sorted(ids))
            self._devices.update(found)
            self._absent |= ids - found.keys()

    def adding(self, device_ids: Iterable[str]) -> None:
        """An addition of these devices waits in the set, to be applied when it is needed."""
        self._adding.update(device_ids)

    async def _add(self, conn: asyncpg.Connection) -> None:
        adding, self._adding = self._adding, set()
        if adding:
            self._history += await self._apply_additions(await self._existing(conn, adding))
            self._absent -= adding  # perhaps added now

    async def _existing(self, conn: asyncpg.Connection, ids: set[str]) -> set[str]:
        """Which of these devices are in the SMI: known where the set looked for them, else asked."""
        unknown = ids - self._devices.keys() - self._absent
        return (ids & self._devices.keys()) | (await store.existing_ids(conn, sorted(unknown)) if unknown else set())

    async def device(self, conn: asyncpg.Connection, device_id: str) -> Device | None:
        if device_id in self._adding:
            await self._add(conn)
        if device_id not in self._devices and device_id not in self._absent:  # not named up front
            await self._read(conn, {device_id})
        return self._devices.get(device_id)

    def change(self, devices: list[Device], history: list[History]) -> None:
        for device in devices:
            self._devices[device.device_id] = self._changed[device.device_id] = device
        self._history += history

    async def flush(self, conn: asyncpg.Connection) -> None:
        """Write what the batch changed so far, in the order it happened to each device."""
        await self._add(conn)
        if self._changed:
            await store.update(conn, list(self._changed.values()))
            self._changed.clear()
        if self._history:
            await store.append_history(conn, self._history)
            self._history = []

    @asynccontextmanager
    async def writing_directly(self, conn: asyncpg.Connection,
                               device_ids: list[str] | None = None) -> AsyncIterator[None]:
        """For a change made to the SMI another way: the set's own changes are written first, and
        the devices changed (all when None) are read again from the SMI the next time."""
        await self.flush(conn)
        yield
        if device_ids is None:
            self._devices.clear()
            self._absent.clear()
        for device_id in device_ids or ():
            self._devices.pop(device_id, None)
            self._absent.discard(device_id)
