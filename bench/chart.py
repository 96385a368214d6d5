"""Draws the benchmark chart (docs/bench.png) from the load generator's figures.

Two panels, Rally beside Node.js socket.io for each scenario: deliveries (or acks,
or messages) per second, and server CPU microseconds per delivery.
"""
import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib import ticker  # noqa: E402

SERVERS = [("rally", "Rally", "#d9480f"), ("node socket.io", "Node.js socket.io", "#495057")]
# (scenario, label, rate field, cpu field)
ROWS = [
    ("broadcast", "broadcast\n1000 clients", "deliveries_per_s", "cpu_us_per_delivery"),
    ("latency", "broadcast\n40k/s fixed", "deliveries_per_s", "cpu_us_per_delivery"),
    ("rooms", "rooms\n10 × 100", "deliveries_per_s", "cpu_us_per_delivery"),
    ("echo", "echo + ack\n100 clients", "acks_per_s", "cpu_us_per_ack"),
    ("private", "private\n50 pairs", "messages_per_s", "cpu_us_per_message"),
]


def main(results_path, out_path):
    with open(results_path) as f:
        results = json.load(f)
    rows = [r for r in ROWS if r[0] in results]
    fig, (rate_ax, cpu_ax) = plt.subplots(1, 2, figsize=(12, 4.8))
    width = 0.38
    for offset, (key, label, color) in zip((-width / 2, width / 2), SERVERS):
        xs, rates, cpus = [], [], []
        for i, (scenario, _, rate_field, cpu_field) in enumerate(rows):
            figures = results[scenario].get(key)
            if not figures:
                continue
            xs.append(i + offset)
            rates.append(figures[rate_field] / 1000)
            cpus.append(figures[cpu_field])
        rate_ax.bar(xs, rates, width, label=label, color=color)
        cpu_ax.bar(xs, cpus, width, label=label, color=color)
        for x, v in zip(xs, cpus):
            cpu_ax.annotate(f"{v:.1f}", (x, v), ha="center", va="bottom", fontsize=8)
    for ax, title, unit in (
        (rate_ax, "Throughput", "thousand operations / s"),
        (cpu_ax, "Server CPU per operation (lower is better)", "µs"),
    ):
        ax.set_xticks(range(len(rows)))
        ax.set_xticklabels([r[1] for r in rows], fontsize=8)
        ax.set_title(title)
        ax.set_ylabel(unit)
        ax.legend()
    cpu_ax.set_yscale("log")
    # Plain numbers on the log axis, not powers of ten.
    cpu_ax.yaxis.set_major_formatter(ticker.FormatStrFormatter("%g"))
    cpu_ax.yaxis.set_minor_formatter(ticker.FormatStrFormatter("%g"))
    fig.suptitle("Rally vs Node.js socket.io 4.8 on the same machine (loopback, 2 cores)")
    fig.tight_layout()
    fig.savefig(out_path, dpi=110)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
