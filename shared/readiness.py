"""Whether this service process can do its work: one answer for the local stack, container health
checks and the tests, served as `GET /ready` beside `/metrics`.

A service names what it needs when it starts (`expect`) and says when each is there (`mark`): a
consumer group joined, a faust table restored, an HTTP API listening. Ready means every expected
part is there; a part that goes away (`clear`, a consumer loop stopping) makes it not ready again.
"""
import threading


class Readiness:
    def __init__(self) -> None:
        self._parts: dict[str, bool] = {}
        self._lock = threading.Lock()  # read by the metrics server's threads

    def expect(self, part: str) -> None:
        with self._lock:
            self._parts.setdefault(part, False)

    def mark(self, part: str) -> None:
        with self._lock:
            self._parts[part] = True

    def clear(self, part: str) -> None:
        with self._lock:
            if part in self._parts:
                self._parts[part] = False

    def parts(self) -> dict[str, bool]:
        with self._lock:
            return dict(self._parts)

    def ready(self) -> bool:
        """Ready once something is expected and everything expected is there."""
        parts = self.parts()
        return bool(parts) and all(parts.values())

    def reset(self) -> None:
        with self._lock:
            self._parts.clear()


READINESS = Readiness()

# The part every service with a JSON API or web pages expects until its HTTP port listens.
HTTP_API = "http api listening"
