"""The latency plot of docs/benchmarks.md: each request over time, and the percentile curve."""
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after choosing the backend)
from matplotlib.ticker import FixedLocator, FuncFormatter, LogFormatter, NullLocator  # noqa: E402

from tests.bench.openloop import percentile  # noqa: E402

CURVE = [0.5, 0.75, 0.9, 0.95, 0.99, 0.995, 0.999, 0.9995, 0.9999]
PLAIN = FuncFormatter(lambda value, _: f"{value:g}")  # 200 rather than 2x10^2 on log axes
MAX_AT = 10 / (1 - CURVE[-1])  # where the maximum is drawn, right of the last percentile


def _spread(q: float) -> float:
    """x position of a percentile: each extra nine gets the same width."""
    return 1 / (1 - q)


def latency_png(path: Path, warmup: list[tuple[float, float]], measured: list[tuple[float, float]],
                target_ms: float, title: str) -> None:
    """(seconds since the first due time, latency in seconds) per answered request."""
    fig, (over_time, curve) = plt.subplots(1, 2, figsize=(12, 4.5), width_ratios=[3, 2])
    for points, colour, label in ((warmup, "0.7", "warm-up"), (measured, "tab:blue", "measured")):
        if points:
            over_time.scatter([t for t, _ in points], [lat * 1000 for _, lat in points], s=2,
                              color=colour, label=label, rasterized=True)
    over_time.axhline(target_ms, color="tab:red", linestyle="--", linewidth=1, label=f"target p99 {target_ms:g} ms")
    over_time.set(xlabel="due time of the request (s)", ylabel="latency (ms)", yscale="log",
                  title="each request: due time to response read")
    over_time.legend(loc="upper right", markerscale=4)

    latencies = [lat * 1000 for _, lat in measured]
    if latencies:
        qs = [q for q in CURVE if q <= 1 - 1 / len(latencies)]  # a percentile needs enough samples
        curve.plot([_spread(q) for q in qs] + [MAX_AT], [percentile(latencies, q) for q in qs] + [max(latencies)],
                   marker="o")
    curve.axhline(target_ms, color="tab:red", linestyle="--", linewidth=1)
    curve.set(xscale="log", yscale="log", xlabel="percentile", ylabel="latency (ms)",
              title="measured period, by percentile")
    curve.xaxis.set_major_locator(FixedLocator([_spread(q) for q in CURVE] + [MAX_AT]))
    curve.xaxis.set_minor_locator(NullLocator())
    curve.set_xticklabels([f"{q * 100:g}" for q in CURVE] + ["max"], rotation=45)
    for axes in (over_time, curve):
        axes.yaxis.set_major_formatter(PLAIN)
        axes.yaxis.set_minor_formatter(LogFormatter(labelOnlyBase=False, minor_thresholds=(1, 0.5)))
    fig.suptitle(title)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
