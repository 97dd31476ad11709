"""Pooled connections go back without a session reset (`shared/db.py`), so no code may leave
session state on one: settings only with `set local`, no LISTEN, and advisory locks only in
`migrate`, which releases its own."""
import re

from shared.settings import REPO_ROOT as ROOT

SESSION_STATE = {
    # a statement of its own (an UPDATE's SET clause follows the table's name, not a quote)
    "a session-wide setting": re.compile(r"[\"';]\s*set\s+(?!local\b)(session\s+)?[a-z_.]+\s*(=|\bto\b)", re.I),
    "a session-wide set_config": re.compile(r"set_config\([^)]*,\s*false\s*\)", re.I),
    "a LISTEN": re.compile(r"\blisten\s+[a-z_]|\.add_listener\(", re.I),
    "an advisory lock": re.compile(r"pg_advisory_lock\b", re.I),
}
ALLOWED = {("shared/db.py", "an advisory lock")}


def test_no_code_leaves_session_state_on_a_pooled_connection():
    found = []
    for path in sorted([*ROOT.glob("services/**/*.py"), *ROOT.glob("shared/**/*.py")]):
        name, text = str(path.relative_to(ROOT)), path.read_text()
        for what, pattern in SESSION_STATE.items():
            if (name, what) not in ALLOWED and (match := pattern.search(text)):
                found.append(f"{name}: {what} ({match.group(0)!r})")
    assert not found, found


def test_the_check_sees_session_state():
    samples = {"a session-wide setting": "await conn.execute('set statement_timeout = 0')",
               "a session-wide set_config": "select set_config('smi.party', $1, false)",
               "a LISTEN": "listen smi_changes", "an advisory lock": "select pg_advisory_lock(1)"}
    for what, sql in samples.items():
        assert SESSION_STATE[what].search(sql), what
    assert not SESSION_STATE["a session-wide setting"].search("'set local max_parallel_workers_per_gather = 0'")
    assert not SESSION_STATE["a session-wide setting"].search("'update intake.requests set response = $1'")
