"""Plot search and suggest latency against corpus size from `kb bench` results files.

    .venv/bin/python benchmarks/plot.py                      # benchmarks/out/results-*.json
    .venv/bin/python benchmarks/plot.py --out docs/benchmarks-latency.png

One point per results file (the sample KB, synthetic 1,000, synthetic 5,000, ...): the
in-process p50 and p95 of hybrid search and suggest with a cold query-embedding cache,
and the targets from issue 8 as dashed lines. The y axis is logarithmic, because at 5,000
articles the numbers span three orders of magnitude.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGETS_MS = {"search": 15.0, "suggest": 20.0}


def load_points(paths: list[Path]) -> list[dict]:
    """(articles, op -> cold percentiles, load average) per results file with in-process numbers, by size."""
    points = []
    for path in paths:
        results = json.loads(path.read_text(encoding="utf-8"))
        inproc = results.get("inprocess")
        if not inproc:
            continue
        points.append({
            "articles": inproc.get("articles") or results["corpus"]["articles"],
            "ops": {op: entry["cold"] for op, entry in inproc["ops"].items()},
            "loadavg": inproc.get("loadavg_start"),
            "name": results["corpus"]["name"],
        })
    return sorted(points, key=lambda p: p["articles"])


def plot(points: list[dict], out: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 4.6), dpi=120)
    sizes = [p["articles"] for p in points]
    styles = {"search_hybrid": ("search (hybrid)", "tab:blue"), "suggest": ("suggest", "tab:orange")}
    for op, (label, colour) in styles.items():
        for pct, marker, line in (("p50_ms", "o", "-"), ("p95_ms", "s", "--")):
            values = [p["ops"][op][pct] for p in points if op in p["ops"]]
            ax.plot(sizes[: len(values)], values, marker=marker, linestyle=line, color=colour,
                    label=f"{label} {pct[:3]}")
    for op, target in TARGETS_MS.items():
        colour = styles["search_hybrid" if op == "search" else "suggest"][1]
        ax.axhline(target, color=colour, linestyle=":", linewidth=1)
        ax.annotate(f"{op} p95 target {target:g} ms", (sizes[0], target), textcoords="offset points",
                    xytext=(2, 3), fontsize=7, color=colour)
    ax.set_xscale("log")
    ax.set_yscale("log")
    from matplotlib.ticker import FormatStrFormatter

    ax.yaxis.set_major_formatter(FormatStrFormatter("%g"))
    ax.yaxis.set_minor_formatter(FormatStrFormatter("%g"))
    ax.set_xticks(sizes)
    ax.set_xticklabels([f"{s:,}" for s in sizes])
    ax.set_xlabel("articles in the index")
    ax.set_ylabel("latency, ms (in process, cold cache)")
    loads = ", ".join(f"{p['articles']:,}: {p['loadavg'][0]}" for p in points if p.get("loadavg"))
    ax.set_title(f"kb search and suggest latency vs corpus size (2 cores)\nload average at start: {loads}", fontsize=9)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Plot kb latency vs corpus size.")
    parser.add_argument("results", nargs="*", type=Path, help="results-*.json files (default: benchmarks/out/)")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks-latency.png")
    args = parser.parse_args(argv)
    paths = args.results or sorted((ROOT / "benchmarks" / "out").glob("results-*.json"))
    points = load_points(paths)
    if not points:
        print("no results with in-process latency: run `kb bench` first", file=sys.stderr)
        return 1
    print(plot(points, args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
