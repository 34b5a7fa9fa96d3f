"""`kb bench` and the synthetic corpus: what they produce, never how fast (timings live in docs/benchmarks.md)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from kbbench.http import unique_text
from kbbench.measure import percentiles
from kbbench.report import markdown
from kbbench.runner import BenchConfig, run
from kbbench.synth import generate_corpus
from kbserver.cli import main
from kbserver.retrieval.scoring import clean_query, content_sentences

ROOT = Path(__file__).resolve().parent.parent
DATA_ARTICLES = ROOT / "tests" / "data" / "articles"
QUERIES = ROOT / "tests" / "eval" / "queries.jsonl"
LATENCY_KEYS = {"n", "p50_ms", "p95_ms", "p99_ms", "mean_ms"}


def _sources(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): p.read_text(encoding="utf-8") for p in sorted(folder.rglob("*.md"))}


def test_synthetic_corpus_passes_lint_with_every_article_type(tmp_path):
    corpus = tmp_path / "corpus"

    written = generate_corpus(corpus, 60, seed=3)

    result = CliRunner().invoke(main, ["lint", "--strict", str(corpus)])
    assert result.exit_code == 0, result.output
    assert result.output.strip().endswith("60 articles checked: 0 error(s), 0 warning(s)")
    types = [line.split(": ", 1)[1] for text in _sources(corpus).values() for line in text.splitlines()
             if line.startswith("type: ")]
    assert written == 60 and sorted(set(types)) == ["policy", "procedure", "product"]
    procedure = next(t for t in _sources(corpus).values() if "type: procedure" in t)
    for heading in ("## Steps\n1. ", "## Exceptions", "## What you can offer", "## Escalation", "## Follow-up"):
        assert heading in procedure


def test_synthetic_corpus_is_the_same_for_the_same_seed(tmp_path):
    generate_corpus(tmp_path / "a", 30, seed=7)
    generate_corpus(tmp_path / "b", 30, seed=7)
    generate_corpus(tmp_path / "c", 30, seed=8)

    assert _sources(tmp_path / "a") == _sources(tmp_path / "b")
    assert _sources(tmp_path / "a") != _sources(tmp_path / "c")


def test_synthetic_corpus_includes_the_sample_articles_in_its_count(tmp_path):
    corpus = tmp_path / "corpus"

    written = generate_corpus(corpus, 40, seed=1, sample_articles=DATA_ARTICLES)

    sources = _sources(corpus)
    assert written == len(sources) == 40
    assert {k: v for k, v in sources.items() if k in _sources(DATA_ARTICLES)} == _sources(DATA_ARTICLES)
    result = CliRunner().invoke(main, ["lint", str(corpus)])
    assert result.exit_code == 0, result.output


def test_unique_text_keeps_cleaned_messages_distinct_with_the_same_sentences():
    text = "Hi, my parcel never came and the tracking has not moved. Order LK-4829133. Thanks, Jo"

    cleaned = {clean_query(unique_text(text, n)) for n in (1, 2, 899, 900, 901, 12345)}

    assert len(cleaned) == 6
    assert all(c.startswith(clean_query(text)) for c in cleaned)
    assert {tuple(content_sentences(c)) for c in cleaned} == {tuple(content_sentences(clean_query(text)))}


def test_percentiles_are_in_milliseconds():
    assert percentiles([0.001] * 99 + [0.101]) == {"n": 100, "p50_ms": 1.0, "p95_ms": 1.0, "p99_ms": 2.0, "mean_ms": 2.0}
    assert percentiles([])["n"] == 0


@pytest.mark.slow  # a whole benchmark run
def test_bench_run_reports_build_latency_http_and_memory(tmp_path, onnx_model):
    config = BenchConfig(
        articles_dir=DATA_ARTICLES, work_dir=tmp_path / "bench", onnx_model=onnx_model, queries_file=QUERIES,
        corpus_name="tiny", clients=(1, 2), duration_s=0.3, max_queries=4, http_caches=("cold",),
        sections=("build", "inprocess", "http", "encoder"), encoder_threads=(1,), with_torch=False,
        warm_up_s=0.2, extra={"int8_quality": False, "int8": False},
    )

    results = run(config)

    build = results["build"]
    assert build["full"]["articles"] == 10 and 10 < build["full"]["embedded"] <= build["full"]["chunks"]
    assert build["incremental"]["changed"] == [build["incremental"]["edited"].removesuffix(".md")]
    assert build["incremental"]["embedded"] == 1
    assert build["incremental_cli"]["exit_code"] == 0
    vectors = build["size_bytes"]["vectors"]  # the log: one row per distinct chunk text
    assert vectors % (384 * 4) == 0 and 0 < vectors <= build["full"]["chunks"] * 384 * 4
    ops = results["inprocess"]["ops"]
    assert set(ops) == {"search_hybrid", "search_keyword", "search_semantic", "suggest"}
    assert set(ops["suggest"]) == {"cold", "warm"} and set(ops["search_keyword"]) == {"cold"}
    assert set(ops["suggest"]["cold"]) == LATENCY_KEYS and ops["suggest"]["cold"]["n"] == 4
    memory = results["inprocess"]["worker_memory"]  # a separate process: the model alone is ~90 MB
    assert memory["Rss"] >= memory["Pss"] > 0 and memory["Peak_Rss"] >= memory["Rss"] > 100 * 2**20
    runs = results["http"]["runs"]
    assert [(r["kind"], r["clients"]) for r in runs] == [("search", 1), ("search", 2), ("suggest", 1), ("suggest", 2)]
    assert all(r["requests"] > 0 and r["errors"] == {} for r in runs)
    workers = results["http"]["memory"]["workers"]
    assert len(workers) == 2 and all(w["rss_kib"] > 0 for w in workers.values())
    assert [b["backend"] for b in results["encoder"]["backends"]] == ["onnx_fp32"]
    assert all(len(results[k]) == 3 for k in ("loadavg_start", "loadavg_end"))
    text = markdown(results)
    for heading in ("**Index build**", "**In-process latency**", "**HTTP**", "**Encoder**", "Worker RSS"):
        assert heading in text


@pytest.mark.slow  # a whole benchmark run
def test_kb_bench_quick_writes_results_and_prints_tables(tmp_path, onnx_model):
    out = tmp_path / "out"
    args = ["bench", "--articles", str(DATA_ARTICLES), "--queries", str(QUERIES), "--out", str(out),
            "--onnx", str(onnx_model), "--quick", "--max-queries", "3", "--only", "inprocess"]

    result = CliRunner().invoke(main, args)

    assert result.exit_code == 0, result.output
    saved = json.loads((out / "results-sample.json").read_text())
    assert saved["corpus"]["articles"] == 10 and saved["inprocess"]["queries"] == 3
    assert "build" in saved  # the index was missing, so it was built first
    assert "| suggest |" in result.stdout and "**In-process latency**" in result.stdout
