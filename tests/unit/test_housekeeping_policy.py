"""Policy files: valid ones load, invalid ones are refused with the reason, the running one stays."""
import pytest

from services.housekeeping import metrics
from services.housekeeping.policy import PolicyError, RunningPolicy, load, parse
from shared.settings import REPO_ROOT


def test_the_shipped_policy_excludes_comms_hubs_and_removes_after_twelve_months():
    policy = load(REPO_ROOT / "deploy" / "housekeeping" / "policy.yaml")
    assert policy.excluded_types == {"CHF", "GPF"}
    assert policy.rule == "all-pending"
    assert policy.months_for("ESME") == 12


@pytest.mark.parametrize("text, reason", [
    ("rule: all-pending\n", "version: Field required"),
    ('version: "x"\nrule: some\n', "rule: Input should be 'all-pending' or 'previously-active-only'"),
    ('version: "x"\ndefault_months: 0\n', "default_months: Input should be greater than or equal to 1"),
    ('version: "x"\nmonths_by_type: {ESMX: 12}\n', "unknown device type 'ESMX'"),
    ('version: "x"\nmonths_by_type: {IHD: 12}\n', "IHD is a Type 2 device"),
    ('version: "x"\nexcluded_types: [CHF]\n', "exclude both CHF and GPF, or neither"),
    ('version: "x"\ndurations: {}\n', "durations: Extra inputs are not permitted"),
    ("version: [\n", "not valid YAML"),
    ("- a list\n", "expected a mapping"),
])
def test_invalid_policies_are_refused_with_the_reason(text, reason):
    with pytest.raises(PolicyError, match="refused|YAML|mapping") as refused:
        parse(text, "policy.yaml")
    assert reason in str(refused.value)
    assert str(refused.value).startswith("policy.yaml: ")


def test_a_refused_file_leaves_the_running_policy_and_its_metric(tmp_path):
    path = tmp_path / "policy.yaml"
    path.write_text('version: "v1"\n')
    running = RunningPolicy(path)
    path.write_text('version: "v2"\ndefault_months: -1\n')
    with pytest.raises(PolicyError):
        running.reload()
    assert running.current.version == "v1"
    assert metrics.POLICY.labels("v1")._value.get() == 1
    path.write_text('version: "v3"\nmonths_by_type: {GSME: 36}\n')
    assert running.reload().version == "v3"
    assert running.current.months_for("GSME") == 36
    assert ("v1",) not in metrics.POLICY._metrics
    assert metrics.POLICY.labels("v3")._value.get() == 1
