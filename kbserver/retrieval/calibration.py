"""Each build's own no-match thresholds (and, with learned examples, its fusion weights),
fitted by `kb index` from the build's own material. No Flask here.

A threshold fixed on one knowledge base does not carry to another: on the public suite the
constant tuned on the bundled set flagged 12-33 % of answerable messages on KBs without
aliases. So every build measures itself, before it is published (docs/quality.md, "No
hand-set threshold"):

- **With learned examples** (at least MIN_EXAMPLES, covering at least MIN_COVERAGE of the
  articles): up to MAX_SAMPLES of them are ranked leave-one-out, each as if it were a new
  customer message and its own example were not there. They are the best sample there is of
  what answerable messages look like on this KB. The same pass fits the fusion weights
  (keyword weight, example weight, prior scale) on a small grid, keeping the defaults unless
  another point is better by more than its noise; then each mode's threshold is the
  LOO_QUANTILE of the leave-one-out top scores, so about that share of answerable messages
  is flagged.
- **Otherwise**: the generic off-topic messages shipped with kb (`kbserver/data/offtopic_bank.txt`:
  greetings, tests, weather, jokes, other trades) are ranked against the build, and each
  mode's threshold is the BANK_QUANTILE of their top scores: the build flags at least that
  share of them.

`calibration.json` in the build records the values, the method, the sample size and what the
fit saw; `scoring.for_build` applies it, and `KB_NO_MATCH_THRESHOLD` still overrides suggest.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable

import numpy as np

from indexer import store
from kbserver.retrieval import routing, scoring
from kbserver.retrieval.embedder import QueryEmbedder
from kbserver.retrieval.reader import AudienceView, Snapshot, read_build
from kbserver.retrieval.scoring import RankParams

VERSION = 2  # 2: the multilingual encoder's thresholds, pooled and per language
MIN_EXAMPLES = 100
MIN_COVERAGE = 0.5
MAX_SAMPLES = 400
LOO_QUANTILE = 0.02
BANK_QUANTILE = 0.95
# e5's top scores separate answerable messages from off-topic ones less well than MiniLM's do
# (AUC 0.92 on the three languages' messages against the bundled articles): at the 0.95 quantile
# of the multilingual bank 35 % of answerable messages were flagged, at 0.80 14 %, with 89 % of
# the off-topic ones flagged either way (docs/languages.md, "Calibration per encoder").
E5_BANK_QUANTILE = 0.80
# e5 puts any two texts of one language closer than texts of two: a Tamil off-topic message
# scores higher against Tamil articles than a Persian one does. Each language with at least this
# many messages in the multilingual bank gets its own thresholds (the bank has about 50 of each
# of Tamil, Telugu and Persian); other languages take the pooled ones.
MIN_LANGUAGE_BANK = 20
SEED = 0
BANK_FILE = Path(__file__).resolve().parent.parent / "data" / "offtopic_bank.txt"
# Off-topic messages in Tamil, Telugu, Persian and other languages, written for kb (kbserver/data/README.md):
# the multilingual encoder's thresholds are fitted on them, as MiniLM's are on BANK_FILE.
MULTILINGUAL_BANK_FILE = BANK_FILE.with_name("offtopic_bank_multilingual.txt")
MODES = ("suggest", "hybrid", "semantic")

# The grid the fit may choose from; the first value of each is today's constant.
GRID: dict[str, tuple[float, ...]] = {
    "keyword_weight": (scoring.KEYWORD_WEIGHT, 0.0, 0.15, 0.45),
    "example_weight": (scoring.EXAMPLE_WEIGHT, 0.7, 1.0),
    "prior_scale": (1.0, 0.0, 0.5),
}


def offtopic_bank(path: Path = BANK_FILE) -> list[str]:
    return [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _fit_space(view: AudienceView, embedder: QueryEmbedder, params: RankParams) -> dict[str, Any]:
    """The multilingual encoder's thresholds: the E5_BANK_QUANTILE of the multilingual bank's top scores,
    every message ranked by that encoder whatever its language (kbserver.retrieval.routing)."""
    from indexer.language import detect

    bank = offtopic_bank(MULTILINGUAL_BANK_FILE)
    forced = replace(params, encoder=routing.ME5)
    signals = _Signals(view, embedder, bank, forced, [None] * len(bank))
    scores = {m: signals.top(forced, m)[1] for m in MODES}
    thresholds = {m: float(np.quantile(scores[m], E5_BANK_QUANTILE)) for m in MODES}
    languages = np.array([detect(message).code for message in bank])
    by_language = {}
    for code in sorted(set(languages.tolist())):
        rows = languages == code
        if code != "und" and rows.sum() >= MIN_LANGUAGE_BANK:
            by_language[code] = {m: round(float(np.quantile(scores[m][rows], E5_BANK_QUANTILE)), 4) for m in MODES}
    return {
        "method": "offtopic-bank", "bank_messages": len(bank), "quantile": E5_BANK_QUANTILE,
        "thresholds": {m: round(v, 4) for m, v in thresholds.items()},
        "by_language": by_language,
        "bank_flagged": {m: round(float((scores[m] < thresholds[m]).mean()), 4) for m in MODES},
    }


class _Signals:
    """The unfused signals of many messages at once, (messages, articles) arrays, to refuse cheaply."""

    def __init__(self, view: AudienceView, embedder: QueryEmbedder, texts: list[str], params: RankParams,
                 leave_out: list[int | None]) -> None:
        text, learned, keyword, factual = [], [], [], []
        for message, left in zip(texts, leave_out):
            evidence, kw, asks = scoring.signals(view, embedder, message, params, left)
            text.append(evidence.text)
            learned.append(evidence.learned)
            keyword.append(kw)
            factual.append(asks)
        self.view = view
        self.text = np.array(text, dtype=np.float32).reshape(len(texts), -1)
        self.learned = None if not texts or learned[0] is None else np.array(learned, dtype=np.float32)
        self.keyword = np.array(keyword, dtype=np.float32).reshape(len(texts), -1)
        self.factual = np.array(factual, dtype=bool).reshape(-1, 1)

    def top(self, params: RankParams, mode: str) -> tuple[np.ndarray, np.ndarray]:
        """Per message: the best article (index) and its confidence score, as `rank` and
        `confidence_score` would give them for `mode`."""
        snap = self.view.snapshot
        semantic = self.text
        if self.learned is not None and params.use_examples:
            semantic = scoring.blend(self.text, self.learned, params)
        rank_mode = "hybrid" if mode == "suggest" else mode
        fused, _, _ = scoring.fuse(semantic, self.keyword, snap.article_type, self.factual, params,
                                   mode=rank_mode, for_suggest=mode == "suggest")
        fused = np.where(self.view.article_mask, fused, -np.inf)
        best = np.argmax(fused, axis=1)
        score = fused[np.arange(len(best)), best]
        if mode != "semantic":
            has_alias = np.array([bool(snap.articles[snap.article_ids[a]].aliases) for a in best], dtype=bool)
            score = np.where(has_alias, score, score + params.aliasless_offset)
        return best, score


def _sample(snap: Snapshot) -> np.ndarray | None:
    """Rows of the learned examples to rank leave-one-out, or None when there are too few."""
    n = len(snap.examples)
    if n < MIN_EXAMPLES or len(np.unique(snap.example_article)) < MIN_COVERAGE * len(snap.article_ids):
        return None
    rng = np.random.default_rng(SEED)
    return np.sort(rng.choice(n, size=min(MAX_SAMPLES, n), replace=False))


def _fit_weights(loo: _Signals, labels: np.ndarray, params: RankParams) -> tuple[RankParams, dict[str, Any]]:
    """The grid point with the best leave-one-out hit@1 for suggest, if it beats the defaults by
    more than the paired 95 % noise of the sample; the defaults otherwise."""
    base_hits = loo.top(params, "suggest")[0] == labels
    best_params, best_hits = params, base_hits
    for kw in GRID["keyword_weight"]:
        for ew in GRID["example_weight"]:
            for ps in GRID["prior_scale"]:
                candidate = replace(params, keyword_weight=kw, example_weight=ew, prior_scale=ps)
                hits = loo.top(candidate, "suggest")[0] == labels
                if hits.mean() > best_hits.mean():
                    best_params, best_hits = candidate, hits
    diffs = best_hits.astype(float) - base_hits.astype(float)
    noise = 1.96 * float(diffs.std(ddof=1)) / np.sqrt(len(diffs)) if len(diffs) > 1 else 0.0
    kept = bool(float(diffs.mean()) > noise)
    chosen = best_params if kept else params
    report = {
        "loo_hit_at_1_default": round(float(base_hits.mean()), 4),
        "loo_hit_at_1_best": round(float(best_hits.mean()), 4),
        "paired_noise": round(noise, 4),
        "kept": kept,
    }
    return chosen, report


def fit(snapshot: Snapshot, embedder: QueryEmbedder, params: RankParams = scoring.DEFAULT_PARAMS) -> dict[str, Any]:
    """The calibration of one build (what `calibration.json` holds)."""
    started = time.perf_counter()
    params = replace(params, no_match_threshold=None, hybrid_threshold=None, semantic_threshold=None)
    view = snapshot.view(allow_internal=True)
    bank = offtopic_bank()
    # English off-topic messages are ranked as English messages are: by MiniLM, unless the build
    # has articles in other languages (then by e5 for those: kbserver.retrieval.routing).
    english = replace(params, encoder=routing.MINILM) if snapshot.all_english and params.encoder == "auto" else params
    bank_signals = _Signals(view, embedder, bank, english, [None] * len(bank))
    rows = _sample(snapshot) if params.use_examples else None
    out: dict[str, Any] = {"version": VERSION, "bank_messages": len(bank)}
    weights: dict[str, float] = {}
    if rows is not None:
        texts = [snapshot.examples[i].text for i in rows]
        loo = _Signals(view, embedder, texts, params, [int(i) for i in rows])
        labels = snapshot.example_article[rows]
        fitted, fit_report = _fit_weights(loo, labels, params)
        if fit_report["kept"]:
            weights = {name: float(getattr(fitted, name)) for name in scoring.FITTED}
        params = fitted
        scores = {m: loo.top(params, m)[1] for m in MODES}
        thresholds = {m: float(np.quantile(scores[m], LOO_QUANTILE)) for m in MODES}
        out.update(method="learned-examples", samples=len(rows), quantile=LOO_QUANTILE, fit=fit_report)
    else:
        scores = {m: bank_signals.top(params, m)[1] for m in MODES}
        thresholds = {m: float(np.quantile(scores[m], BANK_QUANTILE)) for m in MODES}
        out.update(method="offtopic-bank", samples=len(bank), quantile=BANK_QUANTILE)
    bank_scores = {m: bank_signals.top(params, m)[1] for m in MODES}
    out["thresholds"] = {m: round(v, 4) for m, v in thresholds.items()}
    out["weights"] = weights
    out["bank_flagged"] = {m: round(float((bank_scores[m] < thresholds[m]).mean()), 4) for m in MODES}
    if routing.ME5 in snapshot.spaces:
        out["spaces"] = {routing.ME5: _fit_space(view, embedder, params)}
    out["seconds"] = round(time.perf_counter() - started, 2)
    return out


def fingerprint(snapshot: Snapshot, params: RankParams = scoring.DEFAULT_PARAMS) -> str:
    """What a calibration depends on: the articles, the examples, the model, the ranking
    settings it was fitted under (KB_LEARNING, say) and this code's version."""
    h = hashlib.sha256()
    h.update(json.dumps(snapshot.manifest.article_hashes, sort_keys=True).encode())
    for e in snapshot.examples:
        h.update(f"{e.article_id}\0{e.hash}\0{e.weight}\n".encode())
    h.update(f"{snapshot.manifest.model_sha256}\0{VERSION}\0{BANK_FILE.read_bytes().hex()}\0{params!r}".encode())
    if snapshot.spaces:
        h.update(f"{sorted(snapshot.spaces)}\0{MULTILINGUAL_BANK_FILE.read_bytes().hex()}".encode())
    return h.hexdigest()


def calibrate_build(
    build: Path, embedder_factory: Callable[[], QueryEmbedder], params: RankParams = scoring.DEFAULT_PARAMS,
    previous: Path | None = None,
) -> dict[str, Any]:
    """Fit and write `build`'s calibration.json (a complete build, not yet published).

    `previous` is the live build: when its calibration was fitted on exactly the same articles,
    examples and model, it is carried over instead of fitted again (a no-change rebuild costs
    nothing and needs no model)."""
    build = Path(build)
    snapshot = Snapshot(read_build(build.parent.parent, build.name))
    key = fingerprint(snapshot, params)
    if previous is not None and previous != build:
        try:
            earlier = store.read_calibration(previous)
        except (OSError, ValueError, store.IndexError_):
            earlier = None
        if earlier and earlier.get("fingerprint") == key:
            store.write_calibration(build, earlier)
            return earlier
    data = fit(snapshot, embedder_factory(), params)
    data["fingerprint"] = key
    store.write_calibration(build, data)
    return data


__all__ = ["fit", "calibrate_build", "fingerprint", "offtopic_bank"]
