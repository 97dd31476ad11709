"""Writing the table of Pending devices one partition at a time, whichever faust store holds it:
the memory store (a dict, rebuilt from the changelog at every start) or the RocksDB store
(rocksdict, on disk under the data dir: a restart reads only the changelog written since).

The tracker applies device events in batches, outside faust's per-event context, so it writes
each change into the store of the event's own partition itself: faust's RocksDB store would put
it in the partition of whichever event faust holds as current."""
from collections.abc import Callable, Iterable

from faust.stores.rocksdb import Store as RocksDBStore

Write = Callable[[int, bytes, bytes | None], bool]  # (partition, key, entry or None) -> changed?
Read = Callable[[int], Iterable[tuple[bytes, bytes]]]  # partition -> its (key, entry) pairs


def reader(store) -> Read:
    """The entries of one partition. RocksDB keeps a database per partition, so a run reads only
    its own; the memory store is one dict, which the run filters by each entry's partition byte."""
    if isinstance(store, RocksDBStore):
        return lambda partition: store._visible_items(store._db_for_partition(partition))
    return lambda partition: store.data.items()


def size(store) -> int:
    """Entries in the partitions this worker holds."""
    return len(store) if isinstance(store, RocksDBStore) else len(store.data)


def writer(store) -> Write:
    if isinstance(store, RocksDBStore):
        def write(partition: int, key: bytes, entry: bytes | None) -> bool:
            db = store._db_for_partition(partition)  # faust offers no public per-partition write
            if entry is not None:
                db.put(key, entry)
                return True
            if db.get(key) is None:
                return False
            db.delete(key)
            return True
        return write

    data = store.data

    def write(partition: int, key: bytes, entry: bytes | None) -> bool:
        if entry is not None:
            data[key] = entry
            return True
        return data.pop(key, None) is not None
    return write
