"""The hostile-input corpus: `corpus.yaml` expanded into cases, each with its bytes, its record
headers and the one outcome it must get (a response code, or `dead-letter`)."""
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import yaml

from shared.duis import build, codec
from shared.duis.catalogue import SERVICE_REQUESTS
from shared.settings import Settings
from tests.support import CSP_NORTH, DCC, SUPPLIER, SUPPLIER_2

MANIFEST = Path(__file__).with_name("corpus.yaml")
DEAD_LETTER = "dead-letter"
FIRST_COUNTER = 100_000  # counters below are the test's own (set-up and timed requests)

PARTIES = {
    "SUPPLIER": SUPPLIER, "SUPPLIER_2": SUPPLIER_2, "CSP": CSP_NORTH, "DCC": DCC,
    "ED": "90-B3-D5-1F-30-01-00-10", "OU": "90-B3-D5-1F-30-01-00-11",
    "UNKNOWN_PARTY": "90-B3-D5-1F-30-01-FF-FF",
}
# The devices the integration test puts in the SMI before sending the corpus.
DEVICES = {
    "OWN_ESME": build.device_id(1, "00-DA"),      # pre-notified by SUPPLIER
    "THEIRS_ESME": build.device_id(2, "00-DA"),   # pre-notified by SUPPLIER_2
    "OWN_HUB": build.device_id(1, "00-CC"),       # delivered to SUPPLIER
    "OWN_HUB_2": build.device_id(2, "00-CC"),     # delivered to SUPPLIER
    "THEIRS_HUB": build.device_id(3, "00-CC"),    # delivered to SUPPLIER_2, as are the next two
    "THEIRS_HUB_2": build.device_id(4, "00-CC"),
    "THEIRS_HUB_3": build.device_id(5, "00-CC"),
    "UNKNOWN_DEVICE": "00-DB-FF-FF-FF-FF-FF-01",  # never in the SMI
    "NEW_DEVICE": "00-DB-FF-FF-FF-FF-FF-02",      # never in the SMI: what 12.2 cases would add
}
_NAMES = {**PARTIES, **DEVICES, "THEIRS_ESME_LOWER": DEVICES["THEIRS_ESME"].lower(), "NS": codec.NS}
_TOKEN = re.compile(r"\$([A-Z_]*[A-Z]_[0-9]+|[A-Z_]*[A-Z])")
_LAUGHS = (
    '<!DOCTYPE r [<!ENTITY a "ha"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
    '<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;"><!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">'
    '<!ENTITY e "&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;"><!ENTITY f "&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;">'
    '<!ENTITY g "&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;"><!ENTITY h "&g;&g;&g;&g;&g;&g;&g;&g;&g;&g;">]>'
    '<sr:Request xmlns:sr="$NS" schemaVersion="5.4"><sr:Header><sr:RequestID>$REQUEST_ID'
    '</sr:RequestID></sr:Header><sr:Body>&h;</sr:Body></sr:Request>'
)


@dataclass(frozen=True)
class Case:
    name: str
    category: str
    expect: str                      # a response code, or DEAD_LETTER
    payload: bytes | None            # the record value (None: a null value)
    headers: tuple[tuple[str, bytes | None], ...]
    request_id: str | None           # the RequestID its response echoes (None for dead letters)
    hubs: dict[str, str] = field(default_factory=dict)  # bulk returns: the code of each hub

    @property
    def key(self) -> bytes:
        """The record key: dead letters keep it, so it names the case they came from."""
        return self.name.encode()


def load(limit: int | None = None) -> list[Case]:
    """Every case of the manifest; `limit` is the request size limit the oversize cases cross."""
    manifest = yaml.safe_load(MANIFEST.read_text(encoding="utf-8"))
    builder = _Builder(limit or Settings().max_request_bytes)
    for entry in manifest["cases"]:
        builder.single(entry)
    for entry in manifest["families"]:
        getattr(builder, "family_" + entry["family"].replace("-", "_"))(entry)
    return builder.cases


class _Builder:
    def __init__(self, limit: int) -> None:
        self.limit, self.cases = limit, []

    def _counter(self) -> int:
        return FIRST_COUNTER + len(self.cases)

    def add(self, name: str, category: str, expect: Any, payload: bytes | None, *,
            request_id: str | None, content_type: str | None, extra_headers=(), hubs=None) -> None:
        headers = [("content-type", content_type.encode())] if content_type is not None else []
        headers += [(k, None if v is None else v.encode("latin-1")) for k, v in extra_headers]
        expect = str(expect)
        self.cases.append(Case(
            name=name, category=category, expect=expect, payload=payload, headers=tuple(headers),
            request_id=None if expect == DEAD_LETTER else request_id,
            hubs={expand(k, request_id): v for k, v in (hubs or {}).items()}))

    # --- one written-out case ---

    def single(self, entry: dict) -> None:
        counter = self._counter()
        if "request" in entry:
            spec = entry["request"]
            fmt = spec.get("format", "xml")
            request_id = expand(spec.get("request_id") or _default_request_id(spec, counter), None)
            payload = request_bytes(spec, request_id)
            for old, new in entry.get("edit", []):
                old, new = (expand(s, request_id).encode("latin-1") for s in (old, new))
                assert old in payload, f"{entry['name']}: {old[:40]!r} is not in the request"
                payload = payload.replace(old, new, 1)
            default_type = f"application/{fmt}"
        else:
            request_id = build.request_id(SUPPLIER, counter)
            if "raw" in entry:
                payload = expand(entry["raw"], request_id).encode(entry.get("encoding", "utf-8"))
            else:
                payload = None if entry["bytes"] is None else entry["bytes"].encode("latin-1")
            default_type = None
        self.add(entry["name"], entry["category"], entry["expect"], payload, request_id=request_id,
                 content_type=entry.get("content_type", default_type),
                 extra_headers=entry.get("headers", ()), hubs=entry.get("hubs"))

    # --- families: many cases from one entry ---

    def family_truncate(self, entry: dict) -> None:
        spec = entry["request"]
        fmt = spec.get("format", "xml")
        whole = request_bytes(spec, build.request_id(SUPPLIER, self._counter()))
        for point in range(entry["points"]):
            at = point * len(whole) // entry["points"]
            self.add(f"truncated/{fmt}-{spec['variant']}@{at}", entry["category"], entry["expect"],
                     whole[:at], request_id=None, content_type=f"application/{fmt}")

    def family_lookalike(self, entry: dict) -> None:
        for label, eui in entry["euis"].items():
            for shape, expect in entry["expect"].items():
                request_id = build.request_id(SUPPLIER, self._counter())
                if shape == "originator":
                    request_id = f"{eui}:{DCC}:{self._counter()}"
                    spec = {"variant": "8.2", "body": {"DeviceID": DEVICES["UNKNOWN_DEVICE"]}}
                else:
                    spec = {"variant": "8.2", "format": shape.rsplit("-", 1)[1], "body": {"DeviceID": eui}}
                fmt = spec.get("format", "xml")
                self.add(f"lookalike/{label}/{shape}", entry["category"], expect,
                         request_bytes(spec, request_id), request_id=request_id,
                         content_type=f"application/{fmt}")

    def family_eui_spelling(self, entry: dict) -> None:
        for label, eui in entry["spellings"].items():
            for fmt in entry["formats"]:
                request_id = build.request_id(SUPPLIER, self._counter())
                spec = {"variant": "8.2", "format": fmt, "body": {"DeviceID": eui}}
                self.add(f"eui-spelling/{label}", entry["category"], entry["expect"],
                         request_bytes(spec, request_id), request_id=request_id,
                         content_type=f"application/{fmt}")

    def family_forbidden_roles(self, entry: dict) -> None:
        for party, fmt in entry["parties"].items():
            originator = expand(party, None)
            for variant, body in entry["requests"].items():
                request_id = build.request_id(originator, self._counter())
                spec = {"variant": variant, "format": fmt, "body": body}
                self.add(f"role/{_party_name(originator)}-sends-{variant}", entry["category"],
                         entry["expect"], request_bytes(spec, request_id), request_id=request_id,
                         content_type=f"application/{fmt}")

    def family_many_ids(self, entry: dict) -> None:
        for case in entry["cases"]:
            hubs = [build.device_id(n, "00-CE") for n in range(1, case["count"] + 1)]
            body = (build.fault_return(hubs) if case["variant"] == "8.14.3"
                    else build.no_fault_return(hubs))
            request_id = build.request_id(SUPPLIER, self._counter())
            spec = {"variant": case["variant"], "format": case["format"], "body": body}
            name = f"bulk/{case['count']}-ids-{case['variant']}-{case['format']}"
            if "schema_version_chars" in case:
                spec["schema_version"] = "5" * case["schema_version_chars"]
                name += "-long-schema-version"
            self.add(name, entry["category"],
                     case["expect"], request_bytes(spec, request_id), request_id=request_id,
                     content_type=f"application/{case['format']}")

    def family_oversize(self, entry: dict) -> None:
        for case in entry["cases"]:
            request_id = build.request_id(SUPPLIER, self._counter())
            size = self.limit + case["over"]
            payload, fmt = _OVERSIZE[case["shape"]](request_id, size)
            assert len(payload) == size, (case, len(payload))
            self.add(f"oversize/{case['shape']}+{case['over']}", entry["category"], case["expect"],
                     payload, request_id=request_id,
                     content_type=f"application/{fmt}" if fmt else None)


# --- building requests ---

def request_bytes(spec: dict, request_id: str) -> bytes:
    """A request from its manifest spec: a DUIS document with the header and body it names."""
    spec = expand(spec, request_id)
    variant = SERVICE_REQUESTS[spec["variant"]]
    header = {"RequestID": request_id, "CommandVariant": 8,
              "ServiceReference": variant.reference, "ServiceReferenceVariant": variant.variant}
    for name, value in spec.get("header", {}).items():
        if value is None:
            header.pop(name, None)
        else:
            header[name] = None if value == "$NULL" else value
    document: dict[str, Any] = {"Header": header}
    if "body_raw" in spec:
        if spec["body_raw"] is not None:
            document["Body"] = spec["body_raw"]
    elif spec.get("keep_order"):
        document["Body"] = {variant.element: spec["body"]}
    else:
        document["Body"] = {variant.element: variant.model.in_order(spec["body"])}
    version = spec.get("schema_version", codec.SCHEMA_VERSION)
    if spec.get("format", "xml") == "json":
        top = {} if version is None else {"schemaVersion": version}
        return orjson.dumps({**top, **document})
    raw = codec.encode(document, "xml", root="Request", schema_version=version or "")
    return raw if version is not None else raw.replace(b' schemaVersion=""', b"")


def _default_request_id(spec: dict, counter: int) -> str:
    return build.request_id(expand(spec.get("from", "$SUPPLIER"), None), counter,
                            expand(spec.get("to", "$DCC"), None))


def expand(value: Any, request_id: str | None) -> Any:
    """Placeholders replaced, in strings at any depth; a whole-string list token becomes a list."""
    if isinstance(value, dict):
        return {expand(k, request_id): expand(v, request_id) for k, v in value.items()}
    if isinstance(value, list):
        return [expand(v, request_id) for v in value]
    if not isinstance(value, str):
        return value
    if (listed := _list_token(value)) is not None:
        return listed
    return _TOKEN.sub(lambda m: _token(m.group(1), request_id), value)


def _token(name: str, request_id: str | None) -> str:
    if name == "REQUEST_ID":
        assert request_id is not None, "$REQUEST_ID used where the case has no RequestID"
        return request_id
    if name == "LAUGHS":
        return expand(_LAUGHS, request_id)
    if name == "NULL":
        return "$NULL"  # kept for request_bytes: an explicit JSON null
    if name in _NAMES:
        return _NAMES[name]
    kind, _, count = name.rpartition("_")
    n = int(count)
    return {"PAD": lambda: "x" * n, "DIGITS": lambda: "1" + "0" * (n - 1),
            "NEST": lambda: "<a>" * n + "</a>" * n, "BRACKETS": lambda: "[" * n + "]" * n,
            "REFS": lambda: "&a;" * n}[kind]()


def _list_token(value: str) -> list[str] | None:
    found = re.fullmatch(r"\$(HUBS|OTHERS)_([0-9]+)(_THEN_FIRST)?", value)
    if not found:
        return None
    prefix = "00-CE" if found.group(1) == "HUBS" else "00-CF"
    ids = [build.device_id(n, prefix) for n in range(1, int(found.group(2)) + 1)]
    return ids + ids[:1] if found.group(3) else ids


def _party_name(eui: str) -> str:
    return next(name for name, value in PARTIES.items() if value == eui).lower()


# --- oversized requests: each shape padded to exactly `size` bytes ---

def _read(request_id: str, fmt: str = "xml") -> bytes:
    return request_bytes({"variant": "8.2", "format": fmt,
                          "body": {"DeviceID": DEVICES["UNKNOWN_DEVICE"]}}, request_id)


def _pad_at(raw: bytes, marker: bytes, size: int, filler=lambda n: b" " * n) -> bytes:
    head, sep, tail = raw.partition(marker)
    return head + sep + filler(size - len(raw)) + tail


def _pad_before_end(raw: bytes, size: int) -> bytes:
    return raw[:-1] + b" " * (size - len(raw)) + raw[-1:]


def _many_elements(n: int) -> bytes:
    element = b"<sr:Padding>x</sr:Padding>"
    return element * (n // len(element)) + b" " * (n % len(element))


def _comment(n: int) -> bytes:
    return b"<!--" + b"x" * (n - 7) + b"-->"


def _long_text(request_id: str, size: int) -> bytes:
    body = build.no_fault_return([DEVICES["UNKNOWN_DEVICE"]], AdditionalInformation="")
    raw = request_bytes({"variant": "8.14.4", "format": "json", "body": body}, request_id)
    return _pad_at(raw, b'"AdditionalInformation":"', size, lambda n: b"y" * n)


_OVERSIZE = {
    "xml-whitespace-in-body": lambda rid, size: (_pad_at(_read(rid), b"<sr:Body>", size), "xml"),
    "xml-comment": lambda rid, size: (_pad_at(_read(rid), b"<sr:Body>", size, _comment), "xml"),
    "xml-many-elements": lambda rid, size: (_pad_at(_read(rid), b"<sr:Body>", size, _many_elements), "xml"),
    "json-whitespace": lambda rid, size: (_pad_before_end(_read(rid, "json"), size), "json"),
    "json-long-text": lambda rid, size: (_long_text(rid, size), "json"),
    "xml-request-id-after-64-kib": lambda rid, size: (
        _pad_at(_read(rid), b'schemaVersion="5.4">', size, _comment), "xml"),
    "xml-no-request-id": lambda rid, size: (
        _pad_at(_read(rid).replace(f"<sr:RequestID>{rid}</sr:RequestID>".encode(), b""),
                b"<sr:Body>", size), "xml"),
    "binary": lambda rid, size: ((bytes(range(256)) * (size // 256 + 1))[:size], None),
}
