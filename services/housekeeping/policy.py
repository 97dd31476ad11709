"""Loading the housekeeping policy file, and keeping the running one when a new one is invalid."""
import logging
from pathlib import Path

import yaml
from pydantic import ValidationError

from services.housekeeping import metrics
from services.housekeeping.domain import Policy

log = logging.getLogger(__name__)


class PolicyError(ValueError):
    """The file is not a valid policy; the message says what is wrong and where."""


def parse(text: str, source: str = "policy") -> Policy:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise PolicyError(f"{source}: not valid YAML: {error}") from None
    if not isinstance(data, dict):
        raise PolicyError(f"{source}: expected a mapping with version, rule, default_months, "
                          "months_by_type and excluded_types")
    try:
        return Policy.model_validate(data)
    except ValidationError as error:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'policy'}: {e['msg']}"
                             for e in error.errors())
        raise PolicyError(f"{source}: refused: {problems}") from None


def load(path: Path) -> Policy:
    try:
        text = path.read_text()
    except OSError as error:
        raise PolicyError(f"{path}: cannot be read: {error}") from None
    return parse(text, str(path))


class RunningPolicy:
    """The policy in force. A file that fails to load is refused and the running policy stays."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.current = load(path)  # an invalid file at start stops the service with the message
        self._mtime = self._stat()
        metrics.set_policy(self.current.version)

    def _stat(self) -> float | None:
        try:
            return self.path.stat().st_mtime_ns
        except OSError:
            return None

    def reload(self) -> Policy:
        """Load the file again; raise PolicyError (keeping the running policy) if it is invalid."""
        self._mtime = self._stat()
        try:
            policy = load(self.path)
        except PolicyError as error:
            metrics.POLICY_REFUSED.inc()
            log.error("policy file refused, keeping version %s: %s", self.current.version, error)
            raise
        if policy != self.current:
            log.info("housekeeping policy %s replaces %s", policy.version, self.current.version)
        self.current = policy
        metrics.set_policy(policy.version)
        return policy

    def reload_if_changed(self) -> None:
        if self._stat() != self._mtime:
            try:
                self.reload()
            except PolicyError:
                pass
