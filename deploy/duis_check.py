"""Checks of DUIS documents against the DUIS 5.4 XML Schema and SmartDCC's own tools.

- `xsd()` / `validate_xsd()`: the DUIS 5.4 XSD (with `bulk=True`, the project's MP117 amendment
  applied in memory; `amendment_text()` is that delta, quoted by docs/duis-amendment-mp117.md).
- `boxed_validate()` / `boxed_sign()`: the DCC Boxed signing tool (Java), as DCC Boxed runs it.
  It checks its own copy of the DUIS schema, version 5.1, which lacks some 5.4 values.
- `parse()` / `parse_many()`: `@smartdcc/duis-parser`, run by tools/duis/parse.js.
- `require_tools()`: for tests, a failure under CI=true and a skip elsewhere when a tool is missing.

A JSON rendering of a document (the project's `{"Header": ..., "Body": ...}`) is turned into its
XML first, so every check applies to both formats.

`python -m deploy.duis_check FILE...` runs all three checks on documents (`-` reads stdin);
`python -m deploy.duis_check amendment` prints the MP117 schema delta.
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import orjson
from lxml import etree

from deploy.duis_tools import REPO_ROOT, SIGNING_JAR, TOOLS
from shared.duis import codec

XS = "http://www.w3.org/2001/XMLSchema"
SR = codec.NS
MAIN_SCHEMA = "DUIS Schema V5.4.xsd"
BOXED_PACKAGE = "uk.co.smartdcc.boxed.xmldsig"
# Each check is a short-lived JVM: the quick compiler and the serial collector start a third faster.
JVM_FLAGS = ("-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC")
PARSE_SCRIPT = TOOLS / "parse.js"
PARSER_PACKAGE = TOOLS / "node_modules" / "@smartdcc" / "duis-parser"
# The exit codes of the DCC Boxed tool, as its npm wrapper (duis-sign-wrap) names them.
BOXED_EXIT_CODES = {0: "success", 1: "environment error", 2: "application error (e.g. not XML)",
                    3: "missing key material (no certificate or key for the signer)",
                    10: "validation failed"}

# The MP117 amendment, as data: the amended schema and the published text both derive from it.
BULK_LIMIT = 999
REPEATED_PER_HUB = ("DeviceID", "OtherDeviceID")  # in the types of CHFFaultReturn, CHFNoFaultReturn
BULK_REQUESTS = ("CHFFaultReturn", "CHFNoFaultReturn")
CHF_RETURN_RESULTS = f"""\
<xs:element name="CHFReturnResults">
  <xs:complexType>
    <xs:sequence>
      <xs:element name="HubResult" minOccurs="1" maxOccurs="{BULK_LIMIT}">
        <xs:complexType>
          <xs:sequence>
            <xs:element name="DeviceID" type="sr:EUI"/>
            <xs:element name="ResponseCode" type="sr:ResponseCode"/>
            <xs:element name="ReturnsRemedyRecordReference" type="xs:string" minOccurs="0"/>
            <xs:element name="ReturnDueDate" type="xs:date" minOccurs="0"/>
          </xs:sequence>
        </xs:complexType>
      </xs:element>
    </xs:sequence>
  </xs:complexType>
</xs:element>"""

_SAFE_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=True)


class ToolMissing(RuntimeError):
    """Java, node or the npm packages are not installed (`make duis-tools`)."""


class BoxedToolError(RuntimeError):
    """The DCC Boxed tool refused the document."""


@dataclass(frozen=True)
class Unparsed:
    """A document SmartDCC's parser refused; false in a boolean test, so that
    `all(parse_many(documents))` says whether every one parsed."""
    error: str

    def __bool__(self) -> bool:
        return False


# --- the XML Schema ---------------------------------------------------------------------------

def schema_dir() -> Path:
    configured = os.environ.get("SMI_DUIS_XSD_DIR")
    return Path(configured) if configured else REPO_ROOT.parent / "shared" / "duis" / "xsd"


def xsd_text() -> str:
    """The DUIS 5.4 schema document as published (without its imports)."""
    return (schema_dir() / MAIN_SCHEMA).read_text(encoding="utf-8")


def _schema_tree(directory: Path) -> etree._ElementTree:
    path = directory / MAIN_SCHEMA
    if not path.is_file():
        raise FileNotFoundError(f"the DUIS 5.4 XSD is not at {path} (set SMI_DUIS_XSD_DIR)")
    tree = etree.parse(str(path), _SAFE_PARSER)
    # libxml2 does not resolve a relative schemaLocation holding spaces ("MMC Schema V5.4.xsd").
    for imported in tree.getroot().iterfind(f"{{{XS}}}import"):
        if location := imported.get("schemaLocation"):
            imported.set("schemaLocation", (directory / location).resolve().as_uri())
    return tree


def _complex_type(schema: etree._Element, name: str) -> etree._Element:
    found = schema.find(f"{{{XS}}}complexType[@name='{name}']")
    if found is None:
        raise LookupError(f"complexType {name} is not in the schema")
    return found


def _type_of_element(schema: etree._Element, element_name: str) -> str:
    types = {e.get("type") for e in schema.iter(f"{{{XS}}}element") if e.get("name") == element_name}
    types.discard(None)
    if len(types) != 1:
        raise LookupError(f"element {element_name} has types {sorted(types)} in the schema, not one")
    return types.pop().partition(":")[2]


def _amended_elements(schema: etree._Element) -> list[tuple[str, list[etree._Element]]]:
    """Applies the MP117 amendment to the schema; returns where each change went, as
    (place, the changed or added declarations)."""
    changes = []
    for request in BULK_REQUESTS:
        type_name = _type_of_element(schema, request)
        sequence = _complex_type(schema, type_name).find(f"{{{XS}}}sequence")
        changed = [e for e in sequence.iterfind(f"{{{XS}}}element") if e.get("name") in REPEATED_PER_HUB]
        for declaration in changed:
            declaration.set("maxOccurs", str(BULK_LIMIT))
        changes.append((f'xs:complexType name="{type_name}" (the type of the {request} request element)',
                        changed))
    choice = _complex_type(schema, "ResponseMessage").find(f"{{{XS}}}sequence/{{{XS}}}choice")
    added = etree.fromstring(f'<xs:schema xmlns:xs="{XS}" xmlns:sr="{SR}">{CHF_RETURN_RESULTS}</xs:schema>')[0]
    choice.append(added)
    changes.append(('the xs:choice of xs:complexType name="ResponseMessage", after its last element',
                    [added]))
    return changes


@lru_cache(maxsize=4)
def _compiled(directory: str, bulk: bool) -> etree.XMLSchema:
    tree = _schema_tree(Path(directory))
    if bulk:
        _amended_elements(tree.getroot())
    return etree.XMLSchema(tree)


def xsd(bulk: bool = False) -> etree.XMLSchema:
    """The DUIS 5.4 XML Schema; with `bulk`, amended for MP117 bulk returns."""
    return _compiled(str(schema_dir().resolve()), bulk)


def _declaration_text(element: etree._Element) -> str:
    text = etree.tostring(element, encoding="unicode", with_tail=False)
    return re.sub(r'\s+xmlns:\w+="[^"]*"', "", text)


def amendment_text() -> str:
    """The MP117 delta to the DUIS 5.4 XSD, as the XSD snippets it changes or adds."""
    schema = _schema_tree(schema_dir()).getroot()
    parts = []
    for place, declarations in _amended_elements(schema):
        parts.append(f"<!-- In {place}: -->")
        parts += [_declaration_text(d) for d in declarations]
    return "\n".join(parts) + "\n"


def validate_xsd(xml: bytes, bulk: bool = False) -> list[str]:
    """The schema's complaints about the document; empty when it is valid."""
    try:
        document = etree.fromstring(as_xml(xml), _SAFE_PARSER)
    except (etree.XMLSyntaxError, ValueError) as error:
        return [f"not a DUIS document: {error}"]
    schema = xsd(bulk)
    if schema.validate(document):
        return []
    return [f"line {e.line}: {e.message}" for e in schema.error_log]


# --- JSON renderings ----------------------------------------------------------------------------

def as_xml(document: bytes | str) -> bytes:
    """The document as XML: XML as it is, the JSON rendering encoded as its XML."""
    raw = document.encode() if isinstance(document, str) else document
    if raw.lstrip()[:1] != b"{":
        return raw
    data = orjson.loads(raw)
    version = data.pop("schemaVersion", codec.SCHEMA_VERSION)
    root = "Request" if "CommandVariant" in (data.get("Header") or {}) else "Response"
    return codec.encode(data, "xml", root=root, schema_version=version)


# --- the DCC Boxed signing tool -----------------------------------------------------------------

def _java() -> str:
    java = shutil.which("java")
    if java is None:
        raise ToolMissing("java is not installed (the DCC Boxed tool is a Java program)")
    if not SIGNING_JAR.is_file():
        raise ToolMissing(f"{SIGNING_JAR.relative_to(REPO_ROOT)} is missing: run `make duis-tools`")
    return java


def boxed_run(tool: str, xml: bytes, *flags: str) -> subprocess.CompletedProcess:
    """One run of the DCC Boxed tool's `Sign` or `Validate` on the document (stdin)."""
    return subprocess.run([_java(), *JVM_FLAGS, "-cp", str(SIGNING_JAR), f"{BOXED_PACKAGE}.{tool}", "-", *flags],
                          input=as_xml(xml), capture_output=True, timeout=120)


def boxed_validate(xml: bytes) -> tuple[bool, str]:
    """DCC Boxed's verdict: its DUIS 5.1 XSD, then the signature against its certificates.
    Returns whether it passed (exit 0) and what it said (stderr)."""
    done = boxed_run("Validate", xml)
    return done.returncode == 0, done.stderr.decode("utf-8", "replace")


def boxed_validate_many(documents: list[bytes]) -> list[tuple[bool, str]]:
    """`boxed_validate` of each document, two JVMs at a time, in the documents' order."""
    with ThreadPoolExecutor(max_workers=2) as pool:
        return list(pool.map(boxed_validate, documents))


def boxed_sign(xml: bytes, preserve_counter: bool = True) -> bytes:
    """The document signed by DCC Boxed with the test key of its RequestID's originator. Without
    `preserve_counter` the tool gives the RequestID a fresh counter."""
    done = boxed_run("Sign", xml, *(["--preserveCounter"] if preserve_counter else []))
    if done.returncode != 0:
        raise BoxedToolError(f"DCC Boxed Sign exited {done.returncode} "
                             f"({BOXED_EXIT_CODES.get(done.returncode, 'unknown')}): "
                             f"{done.stderr.decode('utf-8', 'replace').strip()}")
    return done.stdout


# --- SmartDCC's DUIS parser ----------------------------------------------------------------------

def _node() -> str:
    node = shutil.which("node")
    if node is None:
        raise ToolMissing("node is not installed (SmartDCC's DUIS parser is a node package)")
    if not PARSER_PACKAGE.is_dir():
        raise ToolMissing(f"{PARSER_PACKAGE.relative_to(REPO_ROOT)} is missing: run `make duis-tools`")
    return node


def parse_many(documents: list[bytes | str]) -> list[dict | Unparsed]:
    """`parseDuis('simplified', ...)` of each document, in one node run: what the parser made of
    it, or why it could not."""
    lines = "".join(json.dumps(as_xml(d).decode("utf-8", "replace")) + "\n" for d in documents)
    done = subprocess.run([_node(), str(PARSE_SCRIPT)], input=lines.encode(), capture_output=True,
                          cwd=TOOLS, timeout=120)
    if done.returncode != 0:
        raise RuntimeError(f"{PARSE_SCRIPT.name} failed: {done.stderr.decode('utf-8', 'replace')}")
    answers = [json.loads(line) for line in done.stdout.decode().splitlines() if line.strip()]
    if len(answers) != len(documents):
        raise RuntimeError(f"{PARSE_SCRIPT.name} answered {len(answers)} of {len(documents)} documents")
    return [a["parsed"] if a["ok"] else Unparsed(a["error"]) for a in answers]


def parse(document: bytes | str) -> dict:
    """The document as SmartDCC's parser reads it; ValueError when it cannot."""
    parsed = parse_many([document])[0]
    if isinstance(parsed, Unparsed):
        raise ValueError(f"@smartdcc/duis-parser: {parsed.error}")
    return parsed


# --- for tests ----------------------------------------------------------------------------------

def missing_tools(*needs: str) -> list[str]:
    """What of `needs` ("xsd", "java", "node"; all by default) is not available, and why."""
    checks = {"xsd": lambda: _schema_tree(schema_dir()), "java": _java, "node": _node}
    problems = []
    for need in needs or tuple(checks):
        try:
            checks[need]()
        except (ToolMissing, FileNotFoundError) as problem:
            problems.append(str(problem))
    return problems


def require_tools(*needs: str) -> None:
    """Stops a test whose tools are missing: a failure under CI=true, a skip elsewhere."""
    if problems := missing_tools(*needs):
        import pytest  # only tests call this

        if os.environ.get("CI") == "true":
            pytest.fail("; ".join(problems), pytrace=False)
        pytest.skip("; ".join(problems))


# --- the command --------------------------------------------------------------------------------

def _boxed_runs(documents: list[bytes]) -> list[subprocess.CompletedProcess | Exception]:
    def run(raw: bytes) -> subprocess.CompletedProcess | Exception:
        try:
            return boxed_run("Validate", raw)
        except (ToolMissing, ValueError) as problem:
            return problem

    with ThreadPoolExecutor(max_workers=2) as pool:
        return list(pool.map(run, documents))


def _report(name: str, raw: bytes, bulk: bool, boxed: subprocess.CompletedProcess | Exception,
            parsed: dict | Unparsed | Exception) -> bool:
    print(f"{name}:")
    passed = True
    errors = validate_xsd(raw, bulk)
    schema = "DUIS 5.4 XSD with the MP117 amendment" if bulk else "DUIS 5.4 XSD"
    print(f"  {schema}: {'valid' if not errors else 'INVALID'}")
    for error in errors[:20]:
        print(f"    {error}")
    passed &= not errors
    # DCC Boxed's schema has no amendment: a bulk document can only fail it, which says nothing.
    amended_only = bulk and not errors and validate_xsd(raw) != []
    if isinstance(boxed, Exception):
        print(f"  DCC Boxed Validate: NOT RUN ({boxed})")
        passed = False
    elif amended_only and boxed.returncode == 10 and b"failed xsd validation" in boxed.stderr:
        print("  DCC Boxed Validate: not applicable (the MP117 amendment is not in its schema, "
              "so it cannot reach the signature)")
    else:
        verdict = "passed" if boxed.returncode == 0 else \
            f"FAILED (exit {boxed.returncode}: {BOXED_EXIT_CODES.get(boxed.returncode, 'unknown')})"
        print(f"  DCC Boxed Validate (its DUIS 5.1 XSD, then the signature): {verdict}")
        for line in boxed.stderr.decode("utf-8", "replace").strip().splitlines()[:20]:
            print(f"    {line}")
        passed &= boxed.returncode == 0
    if isinstance(parsed, Exception):
        print(f"  @smartdcc/duis-parser: NOT RUN ({parsed})")
        passed = False
    elif isinstance(parsed, Unparsed):
        print(f"  @smartdcc/duis-parser: FAILED ({parsed.error})")
        passed = False
    else:
        header = parsed.get("header", {})
        print(f"  @smartdcc/duis-parser: parsed ({header.get('type', '?')}"
              f"{', ResponseCode ' + header['responseCode'] if 'responseCode' in header else ''})")
    return passed


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv == ["amendment"]:
        print(amendment_text(), end="")
        return 0
    options = argparse.ArgumentParser(
        prog="python -m deploy.duis_check",
        description="Check DUIS documents (XML, or the JSON rendering) against the DUIS 5.4 XSD, "
                    "DCC Boxed's validation tool (schema and signature) and SmartDCC's DUIS parser. "
                    "`python -m deploy.duis_check amendment` prints the MP117 schema delta.")
    options.add_argument("files", nargs="+", metavar="FILE", help="a document, or - for stdin")
    options.add_argument("--bulk", action="store_true",
                         help="validate against the DUIS 5.4 XSD with the MP117 bulk-return amendment")
    arguments = options.parse_args(argv)
    documents = [(name, sys.stdin.buffer.read() if name == "-" else Path(name).read_bytes())
                 for name in arguments.files]
    raws = [raw for _, raw in documents]
    try:
        parsed: list[dict | Unparsed | Exception] = parse_many(raws)
    except (ToolMissing, RuntimeError, ValueError) as problem:
        parsed = [problem] * len(documents)
    results = [_report(name, raw, arguments.bulk, boxed, answer)
               for (name, raw), boxed, answer in zip(documents, _boxed_runs(raws), parsed)]
    failed = results.count(False)
    print(f"{len(results) - failed} of {len(results)} documents passed every check")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
