"""Markdown tables of a benchmark results dict (what `kb bench` prints and docs/benchmarks.md quotes)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """A GitHub Markdown table; numbers right-aligned."""
    rows = [list(r) for r in rows]
    align = ["---:" if rows and isinstance(rows[0][i], (int, float)) else "---" for i in range(len(headers))]
    lines = ["| " + " | ".join(headers) + " |", "| " + " | ".join(align) + " |"]
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def _cell(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:,.2f}" if abs(value) < 100 else f"{value:,.0f}"
    if isinstance(value, (list, tuple)):
        return " ".join(_cell(v) for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{k} {v}" for k, v in value.items()) or "0"
    return str(value)


def markdown(results: dict[str, Any]) -> str:
    """Every measured section of one run as Markdown."""
    corpus = results.get("corpus", {})
    machine = results.get("machine", {})
    parts = [
        f"### kb bench: {corpus.get('name')} ({corpus.get('articles')} articles)",
        (f"{machine.get('cpu')}, {machine.get('cores')} cores, {machine.get('memory_gib')} GiB, Python "
         f"{machine.get('python')}; load average at start {_cell(results.get('loadavg_start'))}, "
         f"at end {_cell(results.get('loadavg_end'))}."),
    ]
    build = results.get("build")
    if build:
        full, inc, cli = build["full"], build["incremental"], build.get("incremental_cli", {})
        parts.append("**Index build**")
        parts.append(table(
            ["articles", "chunks", "full build s", "model load s", "embed s", "chunks/s",
             "one edit: total s", "of which model load s", "beyond model load s", "`kb index` one edit s",
             "index MB", "load avg"],
            [[full["articles"], full["chunks"], full["seconds"], full["model_load_s"], full["embed_s"],
              full["chunks_per_s"], inc["seconds"], inc["model_load_s"], inc["beyond_model_load_s"],
              cli.get("seconds"), round(build["size_bytes"]["build"] / 2**20, 1), build["loadavg_start"]]],
        ))
    rebuild = results.get("rebuild")
    if rebuild:
        parts.append("**One-edit rebuilds of the existing index** (s; the first may upgrade an earlier format)")
        phases = sorted({name for run in rebuild["runs"] for name in run["phases"]})
        parts.append(table(
            ["run", "full", "embedded", "total", "model load", "beyond model load", "CPU", *phases],
            [[i, run["full"], run["embedded"], run["seconds"], run["model_load_s"], run["beyond_model_load_s"],
              run["cpu_s"], *(run["phases"].get(p, "") for p in phases)] for i, run in enumerate(rebuild["runs"])],
        ))
    inproc = results.get("inprocess")
    if inproc:
        parts.append(f"**In-process latency** ({inproc['queries']} labelled queries, {inproc['chunks']} chunks, "
                     f"{inproc['threads']} inference thread, {inproc.get('query_encoder', 'fp32')} query encoder; ms)")
        rows = []
        for op, entry in inproc["ops"].items():
            cold, warm = entry["cold"], entry.get("warm", entry["cold"])
            rows.append([op, cold["p50_ms"], cold["p95_ms"], cold["p99_ms"], warm["p50_ms"], warm["p95_ms"],
                         warm["p99_ms"]])
        enc = inproc["encoder_only"]
        rows.append(["(encoder call alone)", enc["p50_ms"], enc["p95_ms"], enc["p99_ms"], None, None, None])
        parts.append(table(["operation", "cold p50", "cold p95", "cold p99", "warm p50", "warm p95", "warm p99"], rows))
        parts.append(f"load average {_cell(inproc['loadavg_start'])} → {_cell(inproc['loadavg_end'])}")
        memory = inproc.get("worker_memory")
        if memory:
            mib = {k: round(v / 2**20) for k, v in memory.items()}
            parts.append(f"Worker memory (a fresh process after answering every query): RSS {mib.get('Rss')} MiB "
                         f"(peak {mib.get('Peak_Rss')}), PSS {mib.get('Pss')}, private dirty {mib.get('Private_Dirty')}, "
                         f"shared clean {mib.get('Shared_Clean')} MiB.")
    http = results.get("http")
    if http:
        parts.append(f"**HTTP** (gunicorn, {http['workers']} workers × {http['inference_threads']} inference "
                     f"thread, {http['duration_s']} s per row; ms)")
        parts.append(table(
            ["kind", "cache", "clients", "requests", "p50", "p95", "p99", "req/s", "errors", "load avg"],
            [[r["kind"], r["cache"], r["clients"], r["requests"], r["p50_ms"], r["p95_ms"], r["p99_ms"],
              r["throughput_rps"], r["errors"], r["loadavg"]] for r in http["runs"]],
        ))
        mem = http.get("memory", {})
        workers = ", ".join(f"{round(w['rss_kib'] / 1024)} MiB (peak {round(w['peak_rss_kib'] / 1024)})"
                            for w in mem.get("workers", {}).values())
        parts.append(f"Worker RSS after the run: {workers}; master {round(mem.get('master', {}).get('rss_kib', 0) / 1024)} MiB.")
    over = results.get("oversubscription")
    if over:
        parts.append(f"**Oversubscription** (suggest, {over['workers']} workers, unique messages; ms)")
        parts.append(table(
            ["inference threads / worker", "clients", "p50", "p95", "p99", "req/s", "load avg"],
            [[r["inference_threads"], r["clients"], r["p50_ms"], r["p95_ms"], r["p99_ms"], r["throughput_rps"],
              r["loadavg"]] for r in over["runs"]],
        ))
    enc = results.get("encoder")
    if enc:
        parts.append(f"**Encoder** (one query per call, {enc['texts']} texts; ms)")
        parts.append(table(
            ["backend", "threads", "p50", "p95", "p99", "load s", "min cosine vs fp32"],
            [[b["backend"], b["threads"], b["p50_ms"], b["p95_ms"], b["p99_ms"], b["load_s"],
              b.get("min_cosine_vs_fp32")] for b in enc["backends"]],
        ))
        quality = enc.get("int8_quality")
        if quality:
            parts.append(table(
                ["query encoder", "suggest hit@1", "hit@3", "MRR@10", "off-topic flagged", "false flags"],
                [[name, q["hit_at_1"], q["hit_at_3"], q["mrr_at_10"], q["offtopic_flagged"], q["false_flags"]]
                 for name, q in quality.items()],
            ))
    return "\n\n".join(parts) + "\n"
