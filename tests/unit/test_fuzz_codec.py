"""Property-based fuzzing of the DUIS codecs and intake's rules: whatever the bytes, the only
failures are the documented ones (Undecodable: a dead letter; Refused: a response code), and
any valid request survives encode then decode unchanged, in XML and in JSON."""
import orjson
from hypothesis import HealthCheck, given, settings, strategies as st

from services.intake import domain
from shared import codes
from shared.duis import build, codec, enums, models
from shared.duis.catalogue import SERVICE_REQUESTS
from shared.parties import Party

SUPPLIER = "90-B3-D5-1F-30-01-00-00"
PARTY = Party(eui=SUPPLIER, name="supplier", kind="service_user", roles={"IS", "GS"})
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
CONTENT_TYPES = st.sampled_from([None, "", "application/xml", "application/json", "text/xml",
                                 "text/plain", "APPLICATION/JSON; charset=utf-8", "\ufffd"])


def intake_outcome(raw: bytes, content_type: str | None) -> str:
    """Intake's rules over the bytes: a code, `routed`, or `dead-letter`; nothing else escapes."""
    try:
        document = codec.decode(raw, content_type)
    except codec.Undecodable:
        return "dead-letter"
    try:
        request_id = domain.check_envelope(document, build.DCC_EUI)
        domain.evaluate(document, request_id, PARTY if request_id.originator == SUPPLIER else None)
    except domain.Refused as rejection:
        assert rejection.code in codes.CODES and rejection.reason
        return rejection.code
    return "routed"


# --- arbitrary input ---

@FUZZ
@given(st.binary(max_size=2000), CONTENT_TYPES)
def test_arbitrary_bytes_are_a_dead_letter_or_a_code(raw, content_type):
    intake_outcome(raw, content_type)


@FUZZ
@given(st.text(max_size=500), CONTENT_TYPES)
def test_arbitrary_text_is_a_dead_letter_or_a_code(text, content_type):
    intake_outcome(text.encode(), content_type)


names = st.sampled_from(["Request", "Header", "Body", "RequestID", "CommandVariant", "ServiceReference",
                         "ServiceReferenceVariant", "DeviceID", "ReadInventory", "CHFFaultReturn", "x"])
leaf_text = st.one_of(st.text(max_size=30), st.sampled_from([
    build.request_id(SUPPLIER, 1), "8", "8.2", "8.14.3", "00-DB-12-34-56-78-90-A2", "&amp;", "<", "]]>"]))


def _xml(tree) -> str:
    name, content = tree
    inner = "".join(_xml(child) for child in content) if isinstance(content, list) else content
    return f"<sr:{name}>{inner}</sr:{name}>"


xml_trees = st.recursive(st.tuples(names, leaf_text),
                         lambda children: st.tuples(names, st.lists(children, max_size=4)), max_leaves=12)


@FUZZ
@given(xml_trees, st.booleans(), st.integers(min_value=0, max_value=10_000))
def test_xml_shaped_input_whole_or_cut_is_a_dead_letter_or_a_code(tree, namespaced, cut):
    body = _xml(tree)
    prefix = f'xmlns:sr="{codec.NS}" schemaVersion="5.4"' if namespaced else 'xmlns:sr="urn:x"'
    raw = f"<sr:Request {prefix}>{body}</sr:Request>".encode()
    intake_outcome(raw, "application/xml")
    intake_outcome(raw[:cut], "application/xml")


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**63, 2**64 - 1) | st.floats(allow_nan=False) | st.text(max_size=20)
    | st.sampled_from([build.request_id(SUPPLIER, 2), "8", "8.2", "12.2", "00-DB-12-34-56-78-90-A2"]),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(names, children, max_size=4),
    max_leaves=20)
headers = st.fixed_dictionaries({}, optional={
    "RequestID": json_values, "CommandVariant": json_values, "ServiceReference": json_values,
    "ServiceReferenceVariant": json_values})


@FUZZ
@given(headers, json_values, json_values)
def test_json_shaped_input_is_a_dead_letter_or_a_code(header, body, version):
    raw = orjson.dumps({"schemaVersion": version, "Header": header, "Body": body})
    outcome = intake_outcome(raw, "application/json")
    if not isinstance(header.get("RequestID"), str) or not header["RequestID"]:
        assert outcome == "dead-letter"


# --- valid requests: encode, then decode, gives them back ---

eui = st.lists(st.sampled_from("0123456789abcdefABCDEF"), min_size=16, max_size=16).map(
    lambda d: "-".join("".join(d[i:i + 2]) for i in range(0, 16, 2)))


def text_up_to(max_size: int):
    return st.text(st.characters(codec="utf-8", categories=["L", "N", "P", "Zs"]), min_size=1,
                   max_size=max_size).map(str.strip).filter(bool)


xs_boolean = st.sampled_from([True, False, "true", "false", "1", "0"])
hubs = st.lists(eui, min_size=1, max_size=30, unique_by=str.upper)
bodies = {
    "12.2": st.fixed_dictionaries(
        {"DeviceID": eui, "DeviceManufacturer": text_up_to(30), "DeviceModel": text_up_to(30),
         "DeviceType": st.sampled_from(enums.values(enums.DeviceType))},
        optional={"SMETSCHTSVersion": text_up_to(20), "FirmwareVersion": text_up_to(8),
                  "ESMEVariant": st.sampled_from(enums.values(models.ESMEVariantEnum)),
                  "AssociatedGPFDeviceID": eui}),
    "8.2": st.one_of(st.builds(lambda d: {"DeviceID": d}, eui),
                     st.from_regex(r"[0-9]{6,13}", fullmatch=True).map(lambda m: {"MPxN": m})),
    "8.3": st.builds(lambda d: {"DeviceID": d}, eui),
    "8.4": st.builds(lambda d, update: {"DeviceID": d, **update}, eui, st.sampled_from([
        {"UpdateDeviceStatusExceptCH": "Pending"},
        {"UpdateDeviceStatusCH": "Withdrawn"},
        {"UpdateDeviceDetails": {"FirmwareVersion": "2.1"}},
        {"UpdateMPxN": {"ImportMPxN": "1234567890"}},
        {"UpdateMPxN": {"ExportMPAN": "1234567890123"}}])),
    "8.14.1": st.builds(lambda d, kind, aerial, where: build.install_success(
        d, CHFInstallType=kind, AerialInstall=aerial, CHFLocation=where), eui,
        st.sampled_from(enums.values(models.CHFInstallTypeEnum)), xs_boolean,
        st.sampled_from(enums.values(models.CHFLocationEnum))),
    "8.14.2": st.builds(lambda d, premises, metal, at: build.install_no_sm_wan(
        d, PremiseType=premises, MetalObstructionCheck=metal, InstallDateTime=at), eui,
        st.sampled_from(enums.values(models.PremiseTypeEnum)), xs_boolean,
        st.sampled_from(["2024-03-01T10:15:00Z", "2024-03-01T10:15:00.5+01:00", "2024-03-01T24:00:00"])),
    "8.14.3": st.builds(
        lambda ids, kind, method, reason, info: build.fault_return(
            ids, CHFFaultReturnType=kind, CHFConnectionMethod=method, CHFFaultReason=reason,
            AdditionalInformation=info),
        hubs, st.sampled_from(enums.values(enums.CHFFaultReturnType)),
        st.sampled_from(enums.values(enums.CHFConnectionMethod)),
        st.sampled_from(enums.values(enums.CHFFaultReason)), text_up_to(200)),
    "8.14.4": st.builds(lambda ids, kind: build.no_fault_return(ids, CHFNoFaultReturnType=kind),
                        hubs, st.sampled_from(enums.values(enums.CHFNoFaultReturnType))),
}
requests = st.sampled_from(sorted(bodies)).flatmap(
    lambda variant: st.tuples(st.just(variant), bodies[variant], st.integers(0, 2**64 - 1)))


@FUZZ
@given(requests, st.sampled_from(["xml", "json"]))
def test_a_valid_request_round_trips_and_is_accepted(request, fmt):
    variant, body, counter = request
    spec = SERVICE_REQUESTS[variant]
    document = codec.decode(build.request(SUPPLIER, counter, variant, body, fmt))
    assert document.format == fmt and document.envelope_error is None
    assert document.request_id == build.request_id(SUPPLIER, counter)
    assert document.data["Body"] == {spec.element: _as_decoded(body, fmt)}
    request_id = domain.check_envelope(document, build.DCC_EUI)
    accepted = domain.evaluate(document, request_id, PARTY)
    assert accepted.spec is spec and request_id.counter == counter
    assert accepted.body == spec.model.model_validate(body)


def _as_decoded(value, fmt: str):
    """What a decoder gives for a value: the same in JSON; in XML, text, and a list of one as
    that one."""
    if fmt == "json":
        return value
    if isinstance(value, dict):
        return {k: _as_decoded(v, fmt) for k, v in value.items()}
    if isinstance(value, list):
        return _as_decoded(value[0], fmt) if len(value) == 1 else [_as_decoded(v, fmt) for v in value]
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


documents = st.recursive(
    st.text(st.characters(codec="utf-8", exclude_categories=["Cc", "Cs", "Zs", "Zl", "Zp"]), max_size=20),
    lambda children: st.dictionaries(st.from_regex(r"[A-Za-z][A-Za-z0-9]{0,8}", fullmatch=True),
                                     children | st.lists(children, min_size=2, max_size=3),
                                     min_size=1, max_size=4),
    max_leaves=15)


@FUZZ
@given(documents, documents, st.sampled_from(["xml", "json"]))
def test_any_document_of_text_round_trips(header_extra, body, fmt):
    document = {"Header": {"RequestID": build.request_id(SUPPLIER, 7), "Extra": header_extra}, "Body": body}
    decoded = codec.decode(codec.encode(document, fmt, root="Request"))
    assert decoded.data == document
    assert codec.read(codec.encode(document, fmt)) == (
        document if fmt == "xml" else {"schemaVersion": codec.SCHEMA_VERSION, **document})
