"""The benchmark pieces that can go wrong quietly: percentiles, open-loop latency accounting, the
service mix, and how a partial run merges into the report."""
import time

import pytest

from tests.bench import report
from tests.bench.openloop import LatencyBook, Schedule, percentile, send_on_schedule
from tests.bench.workload import Record, service_mix


def test_percentile_is_nearest_rank():
    values = list(range(1, 101))  # 1..100
    assert percentile(values, 0.5) == 50
    assert percentile(values, 0.99) == 99
    assert percentile(values, 1.0) == 100
    assert percentile(values, 0.0) == 1
    assert percentile(list(range(30_000)), 0.99) == 29_699  # 0.99 * 30000 is not exact in floats
    assert percentile([7.0], 0.999) == 7.0
    with pytest.raises(ValueError):
        percentile([], 0.5)


def test_a_stall_counts_against_every_request_it_held_back():
    schedule, book = Schedule(start=100.0, rate=500), LatencyBook()
    ids = [f"r{i}" for i in range(4)]
    # r0 on time; the generator stalls 50 ms, so r1..r3 all go out at 100.052
    for i, request_id in enumerate(ids):
        book.record_send(request_id, schedule.due(i), 100.0 if i == 0 else 100.052)
    for request_id in ids:
        book.record_answer(request_id, 100.060, "I0")
    assert schedule.due(3) == pytest.approx(100.006)
    latencies = book.latencies(ids)
    assert latencies[0] == pytest.approx(0.060)  # from due time, not from the late send
    assert latencies[3] == pytest.approx(0.054)
    assert book.worst_send_lag(ids) == pytest.approx(0.050)


def test_unanswered_refused_and_duplicate_answers_are_counted():
    book = LatencyBook()
    for i in range(3):
        book.record_send(f"r{i}", float(i), float(i))
    book.record_answer("r0", 1.0, "I0")
    book.record_answer("r0", 2.0, "I0")
    book.record_answer("r1", 1.5, "E30")
    book.record_answer("someone-else", 1.5, "I0")
    assert book.unanswered(["r0", "r1", "r2"]) == ["r2"]
    assert book.not_accepted(["r0", "r1", "r2"]) == ["r1"]
    assert book.duplicates == 1
    assert book.latencies(["r0"]) == [1.0]  # the first answer counts


def test_on_schedule_the_achieved_rate_is_the_offered_rate():
    schedule, book = Schedule(start=0.0, rate=500), LatencyBook()
    ids = [f"r{i}" for i in range(1000)]
    for i, request_id in enumerate(ids):
        book.record_send(request_id, schedule.due(i), schedule.due(i))
    assert book.achieved_rate(ids) == pytest.approx(500)
    for i, request_id in enumerate(ids):  # the services answer at half the rate: a queue builds
        book.record_answer(request_id, schedule.due(i) + 0.001 + i / 500)
    assert book.answer_rate(ids) == pytest.approx(250, rel=0.01)


async def test_the_generator_sends_on_the_schedule_and_books_due_times():
    class Producer:
        def __init__(self):
            self.sent = []

        async def send(self, topic, value, key=None, headers=None):
            self.sent.append(value)

        async def flush(self):
            pass

    records = [Record(b"k", str(i).encode(), request_id=f"r{i}") for i in range(5)]
    producer, book, schedule = Producer(), LatencyBook(), Schedule(time.perf_counter(), rate=100)
    await send_on_schedule(producer, "t", records, schedule, book)
    assert producer.sent == [b"0", b"1", b"2", b"3", b"4"]
    assert [book.due[f"r{i}"] - schedule.start for i in range(5)] == pytest.approx([0, 0.01, 0.02, 0.03, 0.04])
    assert all(book.sent[r] >= book.due[r] for r in book.due)


def test_the_service_mix_changes_each_device_once_and_needs_enough_of_them():
    plan = service_mix(100, population=20)
    variants = [r.value.split(b"ServiceReferenceVariant")[1][:8] for r in plan]
    assert sum(b"8.2" in v for v in variants) == 50
    assert sum(b"12.2" in v for v in variants) == 30
    assert sum(b"8.4" in v for v in variants) == 20
    assert len({r.request_id for r in plan}) == 100
    with pytest.raises(ValueError):
        service_mix(100, population=19)


def test_targets_are_read_and_judged():
    assert report.normalise_target(300) == "<= 300"
    assert report.normalise_target("-") is None
    assert report.target_met(99.9, "< 100") is True
    assert report.target_met(100, "< 100") is False
    assert report.target_met(6216, ">= 5000") is True
    assert report.target_met(0, "== 0") is True
    assert report.target_met(12.7, None) is None
    assert report.target_met(None, "< 100") is False


def test_a_partial_run_replaces_only_its_own_benches():
    old = {"taken_at": "2026-01-01T00:00:00+00:00", "machine": "x86_64, 2 cores", "scale": 1.0, "results": [
        {"bench": "intake", "name": "intake_throughput", "value": 6216, "unit": "requests/s", "target": ">= 5000",
         "ceiling": 7177, "note": ""},
        {"bench": "returns", "name": "returns_p50", "value": 97.2, "unit": "ms", "target": 300, "note": ""},
        {"bench": "ssi", "name": "page", "value": 2.1, "unit": "ms", "target": 300, "note": ""},
    ]}
    fresh = report.stamp([{"name": "returns_p50", "value": 400.0, "unit": "ms", "target": 300}],
                         "returns", "2026-02-02T00:00:00+00:00", 0.1, "x86_64, 2 cores")
    rows = report.merge(report.previous_rows(old), fresh, {"returns"}, ["intake", "returns", "ssi"])
    assert [(r["bench"], r["value"]) for r in rows] == [("intake", 6216), ("returns", 400.0), ("ssi", 2.1)]
    intake, returns, ssi = rows
    assert (intake["taken_at"], intake["scale"], intake["ceiling"]) == ("2026-01-01T00:00:00+00:00", 1.0, 7177)
    assert (returns["taken_at"], returns["scale"], returns["met"]) == ("2026-02-02T00:00:00+00:00", 0.1, False)
    assert ssi["target"] == "<= 300" and ssi["met"] is True and ssi["ceiling"] is None


def test_the_docs_table_is_rewritten_between_its_markers_only(tmp_path):
    doc = tmp_path / "benchmarks.md"
    doc.write_text(f"# Benchmarks\n\nprose before\n\n{report.START}\nold table\n{report.END}\n\nprose after\n")
    rows = report.stamp([{"name": "e2e_latency_p99_at_500rps", "value": 120.5, "unit": "ms", "target": "< 100",
                          "note": "a | b"}], "e2e", "2026-02-02T00:00:00+00:00", 0.1, "x86_64, 2 cores")
    report.write_docs(doc, rows)
    text = doc.read_text()
    assert text.startswith("# Benchmarks\n\nprose before\n") and text.endswith("\n\nprose after\n")
    assert "old table" not in text
    assert "- e2e: 2026-02-02T00:00:00+00:00, scale 0.1, x86_64, 2 cores" in text
    assert "| e2e | e2e_latency_p99_at_500rps | 120.5 ms | < 100 | **no** |  | a \\| b |" in text
