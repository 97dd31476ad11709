"""The published table of response codes is the one in the code."""
import re
from pathlib import Path

from shared import codes

DOC = Path(__file__).resolve().parents[2] / "docs" / "response-codes.md"


def test_docs_are_in_step_with_the_code():
    assert DOC.read_text() == codes.render_markdown(), "run: python -m shared.codes > docs/response-codes.md"


def test_codes_are_well_formed_and_unique():
    assert "I0" in codes.CODES
    for code in codes.CODES.values():
        assert re.fullmatch(r"I0|W\d+|E\d+", code.code)
        assert code.meaning and code.meaning[0].isupper()
    assert len({c.meaning for c in codes.CODES.values()}) == len(codes.CODES)
