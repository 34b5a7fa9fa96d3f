"""In-process measurements: index builds, search/suggest latency, and the encoder backends.

Every function returns a JSON-ready dict and records the load average beside its numbers:
these machines are shared, so a number without the load it was taken under means little.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

EDIT_LINE = "- Note the outcome in the weekly quality sample."


def percentiles(samples_s: Sequence[float]) -> dict[str, float]:
    """p50/p95/p99 and mean of latencies given in seconds, in milliseconds."""
    if not len(samples_s):
        return {"n": 0, "p50_ms": 0.0, "p95_ms": 0.0, "p99_ms": 0.0, "mean_ms": 0.0}
    ms = np.asarray(samples_s, dtype=np.float64) * 1000.0
    p50, p95, p99 = np.percentile(ms, [50, 95, 99])
    return {"n": len(ms), "p50_ms": round(float(p50), 2), "p95_ms": round(float(p95), 2),
            "p99_ms": round(float(p99), 2), "mean_ms": round(float(ms.mean()), 2)}


def load_average() -> list[float]:
    """The 1, 5 and 15 minute load averages from /proc/loadavg."""
    return [round(x, 2) for x in os.getloadavg()]


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def machine_info() -> dict[str, Any]:
    """CPU model, cores, memory and the versions that decide the numbers."""
    model = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_kib = 0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_kib = int(line.split()[1])
    except OSError:
        pass
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "memory_gib": round(mem_kib / 2**20, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "versions": {p: _version(p) for p in ("kb", "torch", "onnxruntime", "numpy", "whoosh-reloaded",
                                              "sentence-transformers", "gunicorn", "flask")},
    }


def dir_size(path: Path) -> int:
    """Bytes of every file under `path`."""
    return sum(p.stat().st_size for p in Path(path).rglob("*") if p.is_file())


def install_model(onnx_model: Path, index_root: Path) -> Path:
    """Put the ONNX export where the server and `kb eval` look for it (`<root>/models/`)."""
    from indexer.embedding import onnx_file

    target = onnx_file(Path(index_root) / "models")
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(onnx_model, target)
        except OSError:
            shutil.copyfile(onnx_model, target)
    return target


class TimedEncoderFactory:
    """An encoder factory for build_index that loads a fresh encoder and times the load.

    A fresh encoder, not the process-wide one, so that every build pays (and reports) its
    own model load, as a `kb index` process does. It also records the CPU seconds spent in
    `encode`: on a shared machine wall time depends on the neighbours, CPU time much less.
    """

    def __init__(self, onnx_model: Path | None, threads: int | None = None) -> None:
        self.onnx_model = onnx_model
        self.threads = threads
        self.load_s = 0.0
        self.encode_cpu_s = 0.0

    def __call__(self):
        from indexer.embedding import Encoder

        started = time.perf_counter()
        encoder = Encoder(threads=self.threads, onnx_path=self.onnx_model)
        self.load_s = time.perf_counter() - started
        factory = self

        class _Timed:
            def encode(self, texts, **kwargs):
                cpu = time.process_time()
                try:
                    return encoder.encode(texts, **kwargs)
                finally:
                    factory.encode_cpu_s += time.process_time() - cpu

        return _Timed()


def pick_edit_target(articles_dir: Path) -> Path:
    """The article the one-edit rebuild changes: the first procedure with a Follow-up section."""
    for path in sorted(Path(articles_dir).rglob("*.md")):
        text = path.read_text(encoding="utf-8")
        if "\ntype: procedure" in text and "\n## Follow-up" in text:
            return path
    raise ValueError(f"{articles_dir}: no procedure with a Follow-up section to edit")


def edit_article(path: Path, line: str = EDIT_LINE) -> None:
    """One realistic author edit: add a line to the Follow-up checklist."""
    text = path.read_text(encoding="utf-8")
    head, tail = text.split("\n## Follow-up\n", 1)
    path.write_text(f"{head}\n## Follow-up\n{line}\n{tail}", encoding="utf-8")


def measure_build(articles_dir: Path, work_dir: Path, onnx_model: Path, *, cli_edit: bool = True) -> dict[str, Any]:
    """Full build, one-edit incremental rebuild (in process and as a `kb index` command), sizes.

    The articles are copied into `work_dir/articles` first, so the edits never touch the source.
    """
    from indexer.build import build_index
    from indexer.store import current_build_path, read_chunks

    work_dir = Path(work_dir)
    articles = work_dir / "articles"
    root = work_dir / "index"
    for folder in (articles, root):
        if folder.exists():
            shutil.rmtree(folder)
    shutil.copytree(articles_dir, articles)
    install_model(onnx_model, root)
    out: dict[str, Any] = {"loadavg_start": load_average()}

    factory = TimedEncoderFactory(onnx_model)
    report = build_index(articles, root, encoder_factory=factory, full=True)
    build = current_build_path(root)
    assert build is not None  # build_index just published one
    out["full"] = {
        "articles": report.articles,
        "chunks": report.chunks,
        "embedded": report.embedded,
        "seconds": round(report.seconds, 2),
        "model_load_s": round(factory.load_s, 2),
        "embed_s": round(report.embed_seconds, 2),
        "chunks_per_s": round(report.embedded / report.embed_seconds, 1) if report.embed_seconds else None,
        "embed_cpu_s": round(factory.encode_cpu_s, 2),
        "chunks_per_cpu_s": round(report.embedded / factory.encode_cpu_s, 1) if factory.encode_cpu_s else None,
        "other_s": round(report.seconds - report.embed_seconds - factory.load_s, 2),
        "phases": report.phases,
    }
    out["full"]["tokens_per_chunk"] = round(_mean_tokens([c.embed_text for c in read_chunks(build)]), 1)
    out["size_bytes"] = {
        "build": dir_size(build),
        "vectors": (build / "vectors.f32").stat().st_size,  # the vector log (indexer.vectors)
        "whoosh": dir_size(build / "whoosh"),
        "chunks_jsonl": (build / "chunks.jsonl").stat().st_size,
        "articles_json": (build / "articles.json").stat().st_size + (build / "rendered.json").stat().st_size,
        "model_onnx": Path(onnx_model).stat().st_size,
    }

    target = pick_edit_target(articles)
    edit_article(target)
    factory = TimedEncoderFactory(onnx_model)
    report = build_index(articles, root, encoder_factory=factory)
    out["incremental"] = {
        "edited": target.relative_to(articles).as_posix(),
        "changed": report.changed,
        "embedded": report.embedded,
        "seconds": round(report.seconds, 2),
        "model_load_s": round(factory.load_s, 2),
        "beyond_model_load_s": round(report.seconds - factory.load_s, 2),
        "summary": report.summary(),
        "phases": report.phases,
    }
    if cli_edit:
        # What an author waits for: a fresh `kb index` process (interpreter, imports, model load).
        edit_article(target, EDIT_LINE.replace("weekly", "monthly"))
        kb = Path(sys.executable).with_name("kb")
        command = [str(kb)] if kb.exists() else [sys.executable, "-c", "from kbserver.cli import main; main()"]
        started = time.perf_counter()
        # A database that does not exist: no learned examples, so only the edit is embedded.
        no_examples = work_dir / "no-examples.sqlite3"
        done = subprocess.run([*command, "index", "--articles", str(articles), "--index", str(root),
                               "--database", str(no_examples)],
                              capture_output=True, text=True, check=False)
        out["incremental_cli"] = {
            "seconds": round(time.perf_counter() - started, 2),
            "exit_code": done.returncode,
            "output": done.stdout.strip().splitlines()[:1],
        }
    out["index_root"] = str(root)
    out["loadavg_end"] = load_average()
    return out


def measure_rebuild(work_dir: Path, onnx_model: Path, *, repeats: int = 3) -> dict[str, Any]:
    """One-edit rebuilds of the index a `build` section left in `work_dir` (its `articles/` and
    `index/`), without building it again: at 50,000 articles the full build is hours of
    embedding, while the code a rebuild runs is what changes. The first rebuild may be an
    upgrade (an index of an earlier format); each later one is a single edit, timed by step."""
    from indexer.build import build_index

    work_dir = Path(work_dir)
    articles, root = work_dir / "articles", work_dir / "index"
    if not (root / "CURRENT").exists():
        raise ValueError(f"{root}: no index to rebuild (run the build section first)")
    install_model(onnx_model, root)
    out: dict[str, Any] = {"loadavg_start": load_average(), "runs": []}
    target = pick_edit_target(articles)
    for n in range(repeats + 1):
        edit_article(target, f"- [ ] Check the case again after {n + 2} working days.")
        factory = TimedEncoderFactory(onnx_model)
        cpu = time.process_time()
        report = build_index(articles, root, encoder_factory=factory)
        run = {
            "first": n == 0,
            "full": report.full,
            "changed": report.changed,
            "embedded": report.embedded,
            "seconds": round(report.seconds, 2),
            "model_load_s": round(factory.load_s, 2),
            "beyond_model_load_s": round(report.seconds - factory.load_s, 2),
            "cpu_s": round(time.process_time() - cpu, 2),
            "phases": report.phases,
        }
        out["runs"].append(run)
    edits = [r["beyond_model_load_s"] for r in out["runs"][1:]]
    out["median_beyond_model_load_s"] = sorted(edits)[len(edits) // 2] if edits else None
    out["loadavg_end"] = load_average()
    return out


def _mean_tokens(texts: Sequence[str]) -> float:
    """Mean tokens per text as the encoder sees them (truncated, unpadded): what embedding costs scale with."""
    from tokenizers import Tokenizer

    from indexer.embedding import MAX_SEQ_LENGTH, model_path

    tokenizer = Tokenizer.from_file(str(model_path() / "tokenizer.json"))
    tokenizer.no_padding()
    tokenizer.enable_truncation(MAX_SEQ_LENGTH)
    return float(np.mean([len(e.ids) for e in tokenizer.encode_batch(list(texts))])) if texts else 0.0


def _search_ops(view, url: Callable[[str], str]) -> dict[str, Callable[[Any, str], Any]]:
    import uuid

    from kbserver.retrieval import answers
    from kbserver.retrieval.message import clean_message

    def search(emb: Any, q: str, mode: str) -> dict[str, Any]:
        return answers.search(view, emb, q, request_id=uuid.uuid4().hex, mode=mode, url_for_article=url).to_json()

    def suggest(emb: Any, q: str) -> dict[str, Any]:
        message = clean_message(q)  # once per request, as the service does
        return answers.suggest(view, emb, message, request_id=uuid.uuid4().hex, limit=3, url_for_article=url).to_json()

    return {
        "search_hybrid": lambda emb, q: search(emb, q, "hybrid"),
        "search_keyword": lambda emb, q: search(None, q, "keyword"),
        "search_semantic": lambda emb, q: search(emb, q, "semantic"),
        "suggest": suggest,
    }


def measure_inprocess(index_root: Path, queries: Sequence[str], *, threads: int = 1) -> dict[str, Any]:
    """Latency of search (each mode) and suggest, called as the API calls them, without HTTP.

    `cold` gives every query a fresh query-embedding cache, so the encoder runs on every
    call (what a new customer message costs); `warm` reuses one cache filled by a first
    pass (a repeated message). Keyword search never calls the encoder, so it has one number.
    The encoder runs with `threads` inference threads, as in one gunicorn worker.
    """
    from indexer.embedding import Encoder, query_model
    from kbserver.retrieval.embedder import QueryEmbedder, limit_threads
    from kbserver.retrieval.message import clean_query, content_sentences
    from kbserver.retrieval.reader import open_snapshot

    # The query encoder the service would use (KB_QUERY_ENCODER; the HTTP servers inherit it too).
    precision = os.environ.get("KB_QUERY_ENCODER", "fp32").lower()
    out: dict[str, Any] = {"loadavg_start": load_average(), "threads": threads, "queries": len(queries),
                           "query_encoder": precision}
    snapshot = open_snapshot(Path(index_root))
    view = snapshot.view(allow_internal=True)
    encoder = Encoder(threads=threads, onnx_path=query_model(Path(index_root) / "models", precision))
    limit_threads(threads)  # as a gunicorn worker does (kbserver.runtime)
    out["articles"] = len(snapshot.articles)
    out["chunks"] = len(snapshot.chunks)

    def url(article_id: str) -> str:
        return f"/articles/{article_id}"

    results: dict[str, Any] = {}
    shared = QueryEmbedder(encoder, cache_size=len(queries) * 8 + 16)
    for q in queries:
        cleaned = clean_query(q) or q.strip()
        shared.embed(cleaned, content_sentences(cleaned))  # what rank() will ask the warm cache for
    for name, op in _search_ops(view, url).items():
        for q in queries[:5]:  # warm-up: every code path once (imports, Whoosh searcher, caches)
            op(shared, q)
        cold = []
        for q in queries:
            fresh = QueryEmbedder(encoder)
            started = time.perf_counter()
            op(fresh, q)
            cold.append(time.perf_counter() - started)
        entry = {"cold": percentiles(cold)}
        if name != "search_keyword":
            warm = []
            for q in queries:
                started = time.perf_counter()
                op(shared, q)
                warm.append(time.perf_counter() - started)
            entry["warm"] = percentiles(warm)
        results[name] = entry
    out["ops"] = results

    # The encoder's own share: the pass rank() makes over the cleaned message (pooling its
    # sentences' vectors from the same pass).
    calls = []
    for q in queries:
        cleaned = clean_query(q) or q.strip()
        sentences = content_sentences(cleaned)
        started = time.perf_counter()
        encoder.encode_message(cleaned, sentences)
        calls.append(time.perf_counter() - started)
    out["encoder_only"] = percentiles(calls)
    out["loadavg_end"] = load_average()
    return out


_WORKER = """
import json, sys
from pathlib import Path
from indexer.embedding import Encoder, query_model
from kbserver.retrieval import answers, scoring
from kbserver.retrieval.embedder import QueryEmbedder, limit_threads
from kbserver.retrieval.message import clean_message
from kbserver.retrieval.reader import open_snapshot
root, queries, example_search = Path(sys.argv[1]), json.loads(sys.stdin.read()), sys.argv[2]
limit_threads(1)
view = open_snapshot(root).view(allow_internal=True)
encoder = Encoder(threads=1, onnx_path=query_model(root / "models", "fp32"))
params = scoring.DEFAULT_PARAMS
if example_search:
    import dataclasses
    params = dataclasses.replace(params, example_search=example_search)
for q in queries:
    answers.suggest(view, QueryEmbedder(encoder), clean_message(q), request_id="r", limit=3,
                    url_for_article=lambda i: i, params=params)
fields = {}
with open("/proc/self/smaps_rollup") as fh:
    for line in fh:
        key, _, value = line.partition(":")
        if key in ("Rss", "Pss", "Private_Clean", "Private_Dirty", "Shared_Clean"):
            fields[key] = int(value.split()[0]) * 1024
with open("/proc/self/status") as fh:
    for line in fh:
        if line.startswith("VmHWM:"):
            fields["Peak_Rss"] = int(line.split()[1]) * 1024
print(json.dumps(fields))
"""


def measure_worker_memory(index_root: Path, queries: Sequence[str], *, example_search: str = "") -> dict[str, Any]:
    """The memory of a fresh worker-like process that opened the build and answered every query
    with suggest (one inference thread): RSS, PSS, private and shared pages, and the peak RSS,
    in bytes. A separate process, so nothing the benchmark itself holds is counted; the
    memory-mapped files (vectors, impacts) count as shared pages, as in gunicorn's workers."""
    repo = Path(__file__).resolve().parent.parent
    env = {**os.environ, "HF_HUB_OFFLINE": "1",
           "PYTHONPATH": os.pathsep.join(p for p in (str(repo), os.environ.get("PYTHONPATH", "")) if p)}
    done = subprocess.run([sys.executable, "-c", _WORKER, str(index_root), example_search], input=json.dumps(list(queries)),
                          capture_output=True, text=True, check=False, env=env)
    if done.returncode != 0:
        raise RuntimeError(f"worker memory measurement failed: {done.stderr.strip()[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def measure_encoders(
    onnx_model: Path, texts: Sequence[str], *, threads: Sequence[int] = (1, 2), with_torch: bool = True,
    with_int8: bool = True, work_dir: Path | None = None,
) -> dict[str, Any]:
    """Single-query latency of each encoder backend, and how far their vectors differ from ONNX fp32."""
    from indexer.embedding import Encoder

    out: dict[str, Any] = {"loadavg_start": load_average(), "texts": len(texts), "backends": []}
    backends: list[tuple[str, Path | None]] = [("onnx_fp32", onnx_model)]
    if with_int8:
        int8 = _quantise(onnx_model, Path(work_dir or Path(onnx_model).parent))
        if int8 is not None:
            backends.append(("onnx_int8", int8))
    if with_torch:
        backends.append(("torch", None))
    reference = None
    for name, path in backends:
        for n_threads in threads:
            started = time.perf_counter()
            encoder = Encoder(threads=n_threads, onnx_path=path)
            load_s = time.perf_counter() - started
            if name == "torch" and encoder.backend != "torch":
                continue
            for text in texts[:5]:
                encoder.encode([text])
            samples = []
            vectors = []
            for text in texts:
                started = time.perf_counter()
                vectors.append(encoder.encode([text])[0])
                samples.append(time.perf_counter() - started)
            matrix = np.vstack(vectors)
            entry = {"backend": name, "threads": n_threads, "load_s": round(load_s, 2), **percentiles(samples)}
            if reference is None:
                reference = matrix
            else:
                cosine = (matrix * reference).sum(axis=1)
                entry["max_abs_diff_vs_fp32"] = float(np.abs(matrix - reference).max())
                entry["min_cosine_vs_fp32"] = round(float(cosine.min()), 6)
            out["backends"].append(entry)
    out["loadavg_end"] = load_average()
    return out


def _quantise(onnx_model: Path, work_dir: Path) -> Path | None:
    """The per-channel int8 copy of the ONNX model (`quantise_onnx`), or None when unavailable."""
    try:
        import onnxruntime.quantization  # noqa: F401
    except ImportError:
        return None
    from indexer.embedding import quantise_onnx

    target = Path(work_dir) / (Path(onnx_model).stem + "-int8-per-channel.onnx")
    return target if target.exists() else quantise_onnx(onnx_model, target)


def measure_int8_quality(index_root: Path, onnx_model: Path, queries_file: Path, work_dir: Path) -> dict[str, Any]:
    """Suggest hit@1/hit@3 when queries are embedded by the int8 model instead of fp32 (index stays fp32)."""
    from indexer.embedding import Encoder
    from kbserver.retrieval.embedder import QueryEmbedder
    from kbserver.retrieval.evaluation import evaluate, load_cases
    from kbserver.retrieval.reader import open_snapshot

    int8 = _quantise(onnx_model, Path(work_dir))
    if int8 is None:
        return {}
    view = open_snapshot(Path(index_root)).view(allow_internal=True)
    cases = load_cases(Path(queries_file))
    out = {}
    for name, path in (("onnx_fp32", onnx_model), ("onnx_int8", int8)):
        encoder = Encoder(threads=1, onnx_path=path)
        report = evaluate(view, QueryEmbedder(encoder, cache_size=4096), cases, "suggest")
        out[name] = {"hit_at_1": round(report.hit_at_1, 4), "hit_at_3": round(report.hit_at_3, 4),
                     "mrr_at_10": round(report.mrr_at_10, 4), "offtopic_flagged": round(report.offtopic_flagged, 4),
                     "false_flags": round(report.false_flags, 4)}
    return out
