"""The corpus itself: big enough, every case distinct and traceable, every expectation a documented
code; and, without Kafka, intake's rules give each case what the corpus says (or route it on,
when the code is one the inventory or returns gives)."""
from collections import Counter

import pytest
from aiokafka.structs import ConsumerRecord

from services.intake import domain
from services.intake.domain import Refused
from shared import codes, kafka
from shared.duis import codec
from shared.parties import load_file
from shared.settings import Settings
from tests.hostile import corpus

CASES = corpus.load()
SETTINGS = Settings()
REGISTRY = {p.eui: p for p in load_file(SETTINGS.parties_file)}
ROUTED = "routed"


def intake_outcome(case: corpus.Case) -> str:
    """What intake's own rules decide for the record, as its handler runs them."""
    raw = case.payload or b""
    if len(raw) > SETTINGS.max_request_bytes:
        return "E17" if codec.guess_request_id(raw[:65536]) else corpus.DEAD_LETTER
    record = ConsumerRecord("smi.requests", 0, 0, 0, 0, None, raw, None, 0, len(raw), list(case.headers))
    content_type = kafka.header(record, "content-type")
    try:
        document = codec.decode(raw, content_type)
    except codec.Undecodable:
        return corpus.DEAD_LETTER
    try:
        request_id = domain.check_envelope(document, SETTINGS.dcc_eui)
        domain.evaluate(document, request_id, REGISTRY.get(request_id.originator))
    except Refused as rejection:
        return rejection.code
    return ROUTED


def test_the_corpus_holds_at_least_200_distinct_cases_in_every_category():
    assert len(CASES) >= 200
    assert len({c.name for c in CASES}) == len(CASES), "case names are unique"
    assert len({c.payload for c in CASES}) >= len(CASES) - 3, "cases differ in their bytes"
    per_category = Counter(c.category for c in CASES)
    assert set(per_category) == {
        "truncated-xml", "invalid-xml", "xml-entities", "oversize", "wrong-types", "counters",
        "lookalike-eui", "bulk-ids", "duplicate-ids", "unknown-sr", "roles", "another-party",
        "invalid-json", "content-type"}
    assert min(per_category.values()) >= 10, per_category


def test_every_expectation_is_a_documented_code_or_a_dead_letter():
    for case in CASES:
        assert case.expect == corpus.DEAD_LETTER or case.expect in codes.CODES, case.name
        assert all(code in codes.CODES for code in case.hubs.values()), case.name


def test_each_answered_case_has_a_request_id_of_its_own():
    answered = [c.request_id for c in CASES if c.expect != corpus.DEAD_LETTER]
    assert None not in answered
    assert len(set(answered)) == len(answered)


def test_oversize_cases_cross_the_limit_by_what_they_say():
    sizes = {c.name: len(c.payload) for c in CASES if c.category == "oversize"}
    assert sizes["oversize/xml-whitespace-in-body+1"] == SETTINGS.max_request_bytes + 1
    assert sizes["oversize/xml-whitespace-in-body+0"] == SETTINGS.max_request_bytes


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_intake_gives_what_the_corpus_expects(case):
    outcome = intake_outcome(case)
    if case.expect == corpus.DEAD_LETTER or codes.CODES[case.expect].scope == "intake":
        assert outcome == case.expect
    else:  # the inventory or returns answers it
        assert outcome == ROUTED
