"""The served Service Request bodies and the request Header are exactly as the DUIS 5.4 XSD has
them: the XSD (../shared/duis/xsd) is read here, and the models and intake's checks are held to
its element names, order, occurrences and simple-type facets. The public reference templates and
the derived 8.4 forms pass intake and the XSD alike.

Without the XSD or the npm templates a test skips on a workstation and fails under CI=true.
"""
import copy
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, get_args

import pytest
from lxml import etree
from pydantic import BaseModel

from services.intake import domain
from services.intake.domain import Refused
from shared import codes
from shared.duis import build, codec, enums
from shared.duis.catalogue import SERVICE_REQUESTS
from shared.settings import REPO_ROOT
from tests.conftest import unavailable

DUIS_DIR = REPO_ROOT.parent / "shared" / "duis"
XSD_FILE = DUIS_DIR / "xsd" / "DUIS Schema V5.4.xsd"
DERIVED_DIR = DUIS_DIR / "derived-8.4"
TEMPLATES_DIR = REPO_ROOT / "tools" / "duis" / "node_modules" / "@smartdcc" / "duis-templates" / "templates"
XS_NS, SR_NS = "http://www.w3.org/2001/XMLSchema", codec.NS
XS = f"{{{XS_NS}}}"
SPEC_BY_ELEMENT = {spec.element: spec for spec in SERVICE_REQUESTS.values()}
ELEMENTS = sorted(SPEC_BY_ELEMENT)
# MP117: in the bulk returns these repeat up to 999 times where DUIS 5.4 says once.
BULK_REPEATED = {("CHFFaultReturn", "DeviceID"), ("CHFFaultReturn", "OtherDeviceID"),
                 ("CHFNoFaultReturn", "DeviceID")}
TEMPLATES = [
    "12.2_DEVICE_PRE_NOTIFICATION_REQUEST_DUIS.XML",
    "8.2_READ_INVENTORY_REQUEST_DUIS.XML",
    "8.3_DECOMMISSION_DEVICE_REQUEST_DUIS.XML",
    "8.4_UPDATE_INVENTORY_REQUEST_DUIS.XML",
    "8.14.1_COMMUNICATIONS_HUB_STATUS_UPDATE_INSTALL_SUCCESS_REQUEST_DUIS.XML",
    "8.14.2_COMMUNICATIONS_HUB_STATUS_UPDATE_INSTALL_NO_SM_WAN_REQUEST_DUIS.XML",
    "8.14.3_COMMUNICATIONS_HUB_STATUS_UPDATE_FAULT_RETURN_REQUEST_DUIS.XML",
    "8.14.4_COMMUNICATIONS_HUB_STATUS_UPDATE_NO_FAULT_RETURN_REQUEST_DUIS.XML",
]
DERIVED = [
    "8.4_UPDATE_INVENTORY_DEVICE_DETAILS_DERIVED_REQUEST_DUIS.XML",
    "8.4_UPDATE_INVENTORY_MPXN_DERIVED_REQUEST_DUIS.XML",
    "8.4_UPDATE_INVENTORY_STATUS_CH_DERIVED_REQUEST_DUIS.XML",
    "8.4_UPDATE_INVENTORY_STATUS_EXCEPT_CH_DERIVED_REQUEST_DUIS.XML",
]




# --- the XSD, read ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Facets:
    """A simple type, with the facets of its restrictions down to the XML Schema built-in."""
    builtin: str
    enumeration: tuple[str, ...] = ()
    patterns: tuple[str, ...] = ()
    min_length: int | None = None
    max_length: int | None = None
    total_digits: int | None = None


@dataclass(frozen=True)
class Declared:
    """An element of a complexType: simple (`facets`) or complex (`children`, maybe empty)."""
    name: str
    min_occurs: int
    max_occurs: int | None  # None: unbounded
    choice: int | None  # which xs:choice of its parent it belongs to
    type_name: str | None  # the named sr: type, if any
    facets: Facets | None = None
    children: tuple["Declared", ...] | None = None

    @property
    def required(self) -> bool:
        return self.min_occurs >= 1 and self.choice is None


class Schema:
    def __init__(self, path: Path) -> None:
        root = etree.parse(str(path)).getroot()
        self.simple = {e.get("name"): e for e in root.iterfind(f"{XS}simpleType")}
        self.complex = {e.get("name"): e for e in root.iterfind(f"{XS}complexType")}

    def header(self) -> tuple[Declared, ...]:
        return self.declared(self._part_of_request("Header"), None).children

    def body(self, element: str) -> tuple[Declared, ...]:
        [declaration] = self._part_of_request("Body").iterfind(f".//{XS}element[@name='{element}']")
        return self.declared(declaration, None).children

    def _part_of_request(self, name: str):
        [declaration] = self.complex["Request"].iterfind(f"{XS}sequence/{XS}element[@name='{name}']")
        return declaration

    def declared(self, element, choice: int | None) -> Declared:
        max_occurs = element.get("maxOccurs", "1")
        found = Declared(element.get("name"), int(element.get("minOccurs", "1")),
                         None if max_occurs == "unbounded" else int(max_occurs), choice, None)
        if element.get("type"):
            namespace, local = _qname(element, element.get("type"))
            if namespace == XS_NS:
                return replace(found, facets=Facets(local))
            found = replace(found, type_name=local)
            if local in self.simple:
                return replace(found, facets=self.facets(self.simple[local]))
            return replace(found, children=self.particles(self.complex[local]))
        if (simple := element.find(f"{XS}simpleType")) is not None:
            return replace(found, facets=self.facets(simple))
        return replace(found, children=self.particles(element.find(f"{XS}complexType")))

    def particles(self, group, choice: int | None = None) -> tuple[Declared, ...]:
        found: list[Declared] = []
        for place, child in enumerate(group):
            if not isinstance(child.tag, str) or child.tag == f"{XS}annotation":
                continue
            if child.tag == f"{XS}element":
                found.append(self.declared(child, choice))
                continue
            assert (child.get("minOccurs", "1"), child.get("maxOccurs", "1")) == ("1", "1"), \
                "the reader takes groups that occur once"
            if child.tag == f"{XS}sequence" and choice is None:
                found += self.particles(child)
            elif child.tag == f"{XS}choice" and choice is None:
                found += self.particles(child, choice=place)
            else:
                raise AssertionError(f"the reader does not know {child.tag} here")
        return tuple(found)

    def facets(self, simple_type) -> Facets:
        restriction = simple_type.find(f"{XS}restriction")
        assert restriction is not None, "only restrictions are read"
        namespace, base = _qname(restriction, restriction.get("base"))
        inherited = self.facets(self.simple[base]) if namespace == SR_NS else Facets(base)
        values: dict[str, list[str]] = {}
        for facet in restriction:
            if isinstance(facet.tag, str):
                values.setdefault(etree.QName(facet).localname, []).append(facet.get("value"))

        def number(name: str, default: int | None) -> int | None:
            return int(values[name][0]) if name in values else default

        return replace(
            inherited, enumeration=tuple(values.get("enumeration", ())) or inherited.enumeration,
            patterns=inherited.patterns + tuple(values.get("pattern", ())),
            min_length=number("length", number("minLength", inherited.min_length)),
            max_length=number("length", number("maxLength", inherited.max_length)),
            total_digits=number("totalDigits", inherited.total_digits))


def _qname(element, value: str) -> tuple[str, str]:
    prefix, _, local = value.rpartition(":")
    return element.nsmap[prefix or None], local


@pytest.fixture(scope="module")
def schema() -> Schema:
    if not XSD_FILE.is_file():
        unavailable(f"the DUIS 5.4 XSD is not at {XSD_FILE}")
    return Schema(XSD_FILE)


@pytest.fixture(scope="module")
def compiled_xsd() -> etree.XMLSchema:
    if not XSD_FILE.is_file():
        unavailable(f"the DUIS 5.4 XSD is not at {XSD_FILE}")
    tree = etree.parse(str(XSD_FILE))
    # libxml2 does not resolve a relative schemaLocation with spaces in it.
    for imported in tree.getroot().iterfind(f"{XS}import"):
        imported.set("schemaLocation", (XSD_FILE.parent / imported.get("schemaLocation")).resolve().as_uri())
    return etree.XMLSchema(tree)


# --- values and bodies made from the XSD ------------------------------------------------------

SAMPLE_EUI, SAMPLE_REQUEST_ID = "00-DB-12-34-56-78-90-A2", "90-B3-D5-1F-30-01-00-00:90-B3-D5-1F-30-00-00-02:7"
SAMPLE_BY_BUILTIN = {"boolean": "true", "dateTime": "2024-03-01T10:15:00Z", "positiveInteger": "123456789012"}
DATE_TIMES = ["2024-03-01T10:15:00", "2024-03-01T10:15:00.123456789+05:30", "2024-03-01T24:00:00Z",
              "2024-03-01T10:15:00-14:00"]
BOOLEANS = ["true", "false", "1", "0"]
ABSENT = object()  # with_value: remove the element
Where = tuple[str, ...]  # the path of an element inside a body


def sample_value(facets: Facets) -> str:
    if facets.enumeration:
        return facets.enumeration[0]
    if facets.patterns:
        [value] = [v for v in (SAMPLE_EUI, SAMPLE_REQUEST_ID) if all(re.fullmatch(p, v) for p in facets.patterns)]
        return value
    if facets.builtin in SAMPLE_BY_BUILTIN:
        return SAMPLE_BY_BUILTIN[facets.builtin]
    return "7" * (facets.min_length or 1)


def sample(elements: tuple[Declared, ...], wanted: Where = (), at: Where = ()) -> dict[str, Any]:
    """Every element, optional ones too; of each xs:choice the one on the `wanted` path, else
    its first."""
    body: dict[str, Any] = {}
    for element in elements:
        if element.choice is not None:
            group = [e.name for e in elements if e.choice == element.choice]
            on_the_way = wanted[len(at)] if wanted[:len(at)] == at and wanted[len(at):len(at) + 1] else None
            if element.name != (on_the_way if on_the_way in group else group[0]):
                continue
        if element.facets is not None:
            body[element.name] = sample_value(element.facets)
        else:
            body[element.name] = sample(element.children, wanted, at + (element.name,)) or ""
    return body


def alternatives(elements: tuple[Declared, ...], at: Where = ()) -> list[Where]:
    """The path of every element that is an alternative of an xs:choice, at any depth."""
    found = []
    for element in elements:
        if element.choice is not None:
            found.append(at + (element.name,))
        if element.children:
            found += alternatives(element.children, at + (element.name,))
    return found


def samples(elements: tuple[Declared, ...]) -> list[dict[str, Any]]:
    """A full body for every alternative of every choice (the other choices at their first)."""
    found = [sample(elements, path) for path in alternatives(elements)] or [sample(elements)]
    return [body for n, body in enumerate(found) if body not in found[:n]]


def walk(elements: tuple[Declared, ...], body: dict, at: Where = ()):
    """(path, declaration) of every element present in the body, depth first."""
    for element in elements:
        if element.name in body:
            yield at + (element.name,), element
            if element.children:
                yield from walk(element.children, body[element.name], at + (element.name,))


def with_value(body: dict, path: Where, value: Any) -> dict:
    """A copy of the body with the element at `path` set to `value` (or removed: `ABSENT`)."""
    if not path:
        return value
    changed = copy.deepcopy(body)
    parent = changed
    for name in path[:-1]:
        parent = parent[name]
    if value is ABSENT:
        del parent[path[-1]]
    else:
        parent[path[-1]] = value
    return changed


def body_at(body: dict, path: Where) -> Any:
    for name in path:
        body = body[name]
    return body


def intake_code(element: str, content: Any, in_document_order: bool = True) -> str:
    """What intake answers for the body: I0 when accepted, else the rejection's code."""
    try:
        domain.check_body({element: content}, SPEC_BY_ELEMENT[element], in_document_order)
    except Refused as rejection:
        assert rejection.code in codes.CODES and rejection.reason
        return rejection.code
    return "I0"


def nested_model(model: type[BaseModel], name: str) -> type[BaseModel] | None:
    annotation = model.model_fields[name].annotation
    return next((t for t in (annotation, *get_args(annotation)) if isinstance(t, type) and issubclass(t, BaseModel)),
                None)


def pattern_code(element: Declared) -> str:
    return "E11" if element.type_name == "EUI" else "E13"


def wrong_values(element: Declared) -> list[tuple[Any, str]]:
    """Values the element's simple type refuses, each with the code intake gives it."""
    facets, found = element.facets, []
    if facets.enumeration:
        found.append(("NotInTheEnumeration", "E12"))
    if facets.patterns:
        found.append((sample_value(facets)[:-1], pattern_code(element)))
    if facets.max_length is not None:
        found.append(("7" * (facets.max_length + 1), "E13"))
    if facets.min_length:
        found.append(("7" * (facets.min_length - 1), "E13"))
    if facets.total_digits is not None:
        found.append(("1" * (facets.total_digits + 1), "E13"))
    if facets.builtin == "positiveInteger":
        found.append(("0", "E13"))
    if facets.builtin == "boolean":
        found += [("yes", "E13"), ("", "E13")]
    if facets.builtin == "dateTime":
        found += [("yesterday", "E13"), ("2024-03-01 10:15:00", "E13"), ("2024-02-30T10:15:00Z", "E13")]
    return found


def right_values(element: Declared) -> list[Any]:
    """Values the element's simple type takes: every lexical form of a built-in, the longest text."""
    facets = element.facets
    if facets.enumeration:
        return list(facets.enumeration)
    found = {"boolean": [*BOOLEANS, True, False], "dateTime": DATE_TIMES}.get(facets.builtin, [sample_value(facets)])
    if facets.max_length is not None and not facets.patterns:
        found = [*found, "7" * facets.max_length]
    return found


# --- the bodies --------------------------------------------------------------------------------

@pytest.mark.parametrize("element", ELEMENTS)
def test_the_model_has_the_xsd_elements_in_their_order_and_occurrences(schema, element):
    def compare(model: type[BaseModel], declared: tuple[Declared, ...], where: str) -> None:
        assert list(model.model_fields) == [d.name for d in declared], where
        assert model.xsd_choice == tuple(d.name for d in declared if d.choice is not None), where
        for d in declared:
            field_info = model.model_fields[d.name]
            assert field_info.is_required() == d.required, f"{where}/{d.name}"
            inner = nested_model(model, d.name)
            if d.children:
                assert inner is not None, f"{where}/{d.name} is a complex element"
                compare(inner, d.children, f"{where}/{d.name}")
            else:
                assert inner is None, f"{where}/{d.name} is a simple or empty element"
    compare(SPEC_BY_ELEMENT[element].model, schema.body(element), element)


@pytest.mark.parametrize("element", ELEMENTS)
def test_every_full_body_is_accepted_and_valid_against_the_xsd(schema, compiled_xsd, element):
    spec = SPEC_BY_ELEMENT[element]
    for body in samples(schema.body(element)):
        assert intake_code(element, body) == "I0", body
        raw = build.request("90-B3-D5-1F-30-01-00-00", 1, spec.variant, body)
        assert compiled_xsd.validate(etree.fromstring(raw)), (body, compiled_xsd.error_log)


@pytest.mark.parametrize("element", ELEMENTS)
def test_every_accepted_body_survives_the_json_form_intake_passes_on(schema, element):
    model = SPEC_BY_ELEMENT[element].model
    for body in samples(schema.body(element)):
        bodies = [body] + [with_value(body, path, value) for path, declared in walk(schema.body(element), body)
                           if declared.facets for value in right_values(declared)]
        for one in bodies:
            accepted = model.model_validate(one)
            assert model.model_validate(accepted.model_dump(mode="json", exclude_none=True)) == accepted, one


@pytest.mark.parametrize("element", ELEMENTS)
def test_an_element_the_xsd_does_not_name_is_refused(schema, element):
    for body in samples(schema.body(element)):
        assert intake_code(element, {**body, "NotInTheXSD": "1"}) == "E48"
        for path, declared in walk(schema.body(element), body):
            if declared.children:
                assert intake_code(element, with_value(body, path, {**body_at(body, path), "NotInTheXSD": "1"})) \
                    == "E48", path


@pytest.mark.parametrize("element", ELEMENTS)
def test_required_elements_are_required_and_optional_ones_may_be_absent(schema, element):
    for body in samples(schema.body(element)):
        for path, declared in walk(schema.body(element), body):
            without = with_value(body, path, ABSENT)
            if declared.choice is not None:
                expected = "E19"
            elif declared.required:
                expected = "E44"
            else:
                expected = "I0"
            assert intake_code(element, without) == expected, path


@pytest.mark.parametrize("element", ELEMENTS)
def test_every_enumeration_value_is_accepted_and_a_value_outside_it_refused(schema, element):
    for body in samples(schema.body(element)):
        for path, declared in walk(schema.body(element), body):
            if declared.facets is None or not declared.facets.enumeration:
                continue
            for value in declared.facets.enumeration:
                assert intake_code(element, with_value(body, path, value)) == "I0", (path, value)
            assert intake_code(element, with_value(body, path, "NotInTheEnumeration")) == "E12", path


@pytest.mark.parametrize("element", ELEMENTS)
def test_values_outside_a_simple_type_are_refused_with_their_code(schema, element):
    for body in samples(schema.body(element)):
        for path, declared in walk(schema.body(element), body):
            if declared.facets is None:
                continue
            for value in right_values(declared):
                assert intake_code(element, with_value(body, path, value)) == "I0", (path, value)
            for value, code in wrong_values(declared):
                assert intake_code(element, with_value(body, path, value)) == code, (path, value)


@pytest.mark.parametrize("element", ELEMENTS)
def test_an_element_repeats_only_where_the_xsd_or_mp117_lets_it(schema, element):
    for body in samples(schema.body(element)):
        for path, declared in walk(schema.body(element), body):
            twice = with_value(body, path, [body_at(body, path)] * 2)
            if len(path) == 1 and (element, path[0]) in BULK_REPEATED:
                assert declared.max_occurs == 1, "DUIS 5.4 has it once; MP117 lets it repeat"
                distinct = [SAMPLE_EUI, SAMPLE_EUI[:-1] + "B"]
                paired = {n: distinct for (e, n) in BULK_REPEATED if e == element}
                assert intake_code(element, {**body, **paired}) == "I0", path
            elif declared.max_occurs == 1:
                assert intake_code(element, twice) != "I0", path


def places(elements: tuple[Declared, ...], names: list[str]) -> list[int]:
    """Where each named element stands in the sequence (the alternatives of a choice share one)."""
    index = {}
    for n, element in enumerate(elements):
        index[element.name] = next((index[e.name] for e in elements[:n] if e.choice is not None
                                    and e.choice == element.choice), n)
    return [index[name] for name in names]


@pytest.mark.parametrize("element", ELEMENTS)
def test_xml_elements_out_of_their_xsd_order_are_refused_json_ones_not(schema, element):
    top = Declared(element, 1, 1, None, None, children=schema.body(element))
    for body in samples(top.children):
        for path, declared in [((), top), *walk(top.children, body)]:
            if not declared.children:
                continue
            reversed_names = list(reversed(list(body_at(body, path))))
            if places(declared.children, reversed_names) == sorted(places(declared.children, reversed_names)):
                continue  # one element, or the elements of one xs:choice: no order to break
            reversed_here = with_value(body, path, {n: body_at(body, path)[n] for n in reversed_names})
            assert intake_code(element, reversed_here) == "E48", path
            assert intake_code(element, reversed_here, in_document_order=False) == "I0", path


def test_empty_elements_mean_present_in_both_renderings(schema):
    [delete] = [d for d in schema.body("UpdateInventory") if d.name == "DeleteDevice"]
    assert delete.children == (), "DeleteDevice is an empty complexType"
    for empty in ("", {}, True):
        assert intake_code("UpdateInventory", {"DeviceID": SAMPLE_EUI, "DeleteDevice": empty}) == "I0"
    assert intake_code("UpdateInventory", {"DeviceID": SAMPLE_EUI, "DeleteDevice": {"Force": ""}}) == "E48"


# --- the request Header -------------------------------------------------------------------------

def header(**changes: Any) -> dict[str, Any]:
    found = {"RequestID": SAMPLE_REQUEST_ID, "FirstInSequence": "true",
             "PrecedingServiceRequestID": SAMPLE_REQUEST_ID[:-1] + "6", "CommandVariant": "8",
             "ServiceReference": "8.2", "ServiceReferenceVariant": "8.2"}
    for name, value in changes.items():
        if value is ABSENT:
            del found[name]
        else:
            found[name] = value
    return found


def header_code(fields: dict[str, Any], in_document_order: bool = True) -> str:
    try:
        domain.check_header(fields, in_document_order)
    except Refused as rejection:
        return rejection.code
    return "I0"


def test_the_header_has_the_xsd_elements_in_their_order(schema):
    declared = schema.header()
    assert domain.HEADER_FIELDS == tuple(d.name for d in declared)
    assert domain.REQUIRED_HEADER_FIELDS == tuple(d.name for d in declared if d.required)
    assert all(d.max_occurs == 1 and d.choice is None for d in declared)
    assert list(header()) == list(domain.HEADER_FIELDS)


def test_header_elements_required_optional_unknown_and_out_of_order(schema):
    assert header_code(header()) == "I0"
    for d in schema.header():
        assert header_code(header(**{d.name: ABSENT})) == ("E44" if d.required else "I0"), d.name
    assert header_code({**header(), "Priority": "1"}) == "E48"
    out_of_order = dict(reversed(list(header().items())))
    assert header_code(out_of_order) == "E48"
    assert header_code(out_of_order, in_document_order=False) == "I0"


def test_header_sequencing_elements_are_typed_as_the_xsd_says(schema):
    by_name = {d.name: d for d in schema.header()}
    assert by_name["FirstInSequence"].facets.builtin == "boolean"
    for value in [*BOOLEANS, True, False]:
        assert header_code(header(FirstInSequence=value)) == "I0", value
    for value in ("yes", "", "TRUE", 1):
        assert header_code(header(FirstInSequence=value)) == "E13", value
    preceding = by_name["PrecedingServiceRequestID"].facets
    assert by_name["PrecedingServiceRequestID"].type_name == by_name["RequestID"].type_name == "RequestIDType"
    largest = f"{SAMPLE_REQUEST_ID.rsplit(':', 1)[0]}:{2**64 - 1}"
    for value in (largest, SAMPLE_REQUEST_ID.lower()):
        assert all(re.fullmatch(p, value) for p in preceding.patterns)
        assert header_code(header(PrecedingServiceRequestID=value)) == "I0", value
    for value in (largest[:-1] + "6", SAMPLE_REQUEST_ID.replace(":7", ":07"), SAMPLE_EUI, "x" * 90):
        assert not all(re.fullmatch(p, value) for p in preceding.patterns)
        assert header_code(header(PrecedingServiceRequestID=value)) == "E13", value


def test_header_enumerations_hold_every_served_value_and_others_are_refused(schema):
    """The header's enumerations have codes of their own: E40 (CommandVariant), E42 (variant
    not served, in the XSD's enumeration or not), E41 (ServiceReference)."""
    by_name = {d.name: d.facets.enumeration for d in schema.header() if d.facets and d.facets.enumeration}
    assert "8" in by_name["CommandVariant"]
    assert set(by_name["ServiceReferenceVariant"]) == enums.SERVICE_REFERENCE_VARIANTS
    for spec in SERVICE_REQUESTS.values():
        assert spec.variant in by_name["ServiceReferenceVariant"] and spec.reference in by_name["ServiceReference"]
        fields = header(ServiceReference=spec.reference, ServiceReferenceVariant=spec.variant)
        assert header_code(fields) == "I0", spec.variant
    for command_variant in set(by_name["CommandVariant"]) - {"8"} | {"10"}:
        assert header_code(header(CommandVariant=command_variant)) == "E40", command_variant
    for variant in sorted(set(by_name["ServiceReferenceVariant"]) - set(SERVICE_REQUESTS))[:5] + ["99.99"]:
        assert header_code(header(ServiceReference=enums.service_reference(variant),
                                  ServiceReferenceVariant=variant)) == "E42", variant
    assert header_code(header(ServiceReference="8.3")) == "E41"


# --- the reference requests ------------------------------------------------------------------------

def reference_request(directory: Path, name: str, what: str) -> bytes:
    if not directory.is_dir():
        unavailable(f"{what} are not at {directory}")
    return (directory / name).read_bytes()


@pytest.mark.parametrize("directory, name, what", [
    *[pytest.param(TEMPLATES_DIR, name, "the DUIS reference templates (make duis-tools)", id=name)
      for name in TEMPLATES],
    *[pytest.param(DERIVED_DIR, name, "the derived 8.4 requests", id=name) for name in DERIVED],
])
def test_reference_requests_pass_intake_and_the_xsd(compiled_xsd, directory, name, what):
    raw = reference_request(directory, name, what)
    document = codec.decode(raw)
    assert document.envelope_error is None
    spec = domain.check_header(document.data["Header"], in_document_order=True)
    assert spec.variant == name.split("_")[0]
    domain.check_body(document.data["Body"], spec, in_document_order=True)
    assert compiled_xsd.validate(etree.fromstring(raw)), compiled_xsd.error_log
