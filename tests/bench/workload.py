"""Synthetic request mixes for the benchmarks."""
from shared.duis import build
from shared.duis.build import device_id

SUPPLIERS = ["90-B3-D5-1F-30-01-00-00", "90-B3-D5-1F-30-01-00-01"]


def mixed_requests(count: int, start: int = 0) -> list[tuple[bytes, bytes, str]]:
    """(key, value, content-type) of valid requests of every served variant, XML and JSON."""
    out = []
    for n in range(start, start + count):
        supplier, device, fmt = SUPPLIERS[n % 2], device_id(n), ("xml", "json")[n % 5 == 0]
        kind = n % 8
        if kind < 3:
            variant, body = "12.2", build.prenotification(device)
        elif kind == 3:
            variant, body = "8.2", {"DeviceID": device}
        elif kind == 4:
            variant, body = "8.4", {"DeviceID": device, "UpdateMPxN": {"MPxN": f"{1000000 + n}"}}
        elif kind == 5:
            variant, body = "8.3", {"DeviceID": device}
        elif kind == 6:
            variant, body = "8.14.1", {"DeviceID": device}
        else:
            variant, body = "8.14.3", build.fault_return([device, device_id(n + 10_000_000)])
        raw = build.request(supplier, n, variant, body, fmt)
        out.append((supplier.encode(), raw, f"application/{fmt}"))
    return out
