"""The relevance suite: every labelled set kb is measured on, built and evaluated in one go.

A set is a folder of articles and a labelled message file (`kb eval`'s format); a set with a
`learning` file of resolved tickets also runs a second time with them learned, the way a
team would (`kb learn import` into a fresh database, then `kb index`). The sets are listed
in `tests/eval/suite/sets.json`; `kb suite` prints one table of every set and mode with the
95 % interval each set's size allows, and `--compare` says, set by set, whether a change
moved hit@1 by more than that set's noise (a paired interval over the same messages).

No Flask here: the suite ranks exactly as `kb eval` and the API do.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kbserver.retrieval import scoring
from kbserver.retrieval.embedder import QueryEmbedder
from kbserver.retrieval.evaluation import EVAL_MODES, ModeReport, evaluate, load_cases
from kbserver.retrieval.scoring import RankParams

Z95 = 1.96


@dataclass(frozen=True)
class SuiteSet:
    name: str
    articles: Path
    queries: Path
    learning: Path | None = None
    note: str = ""
    multilingual: bool = False  # built with the multilingual encoder too (docs/languages.md)


@dataclass
class SetResult:
    name: str
    learned: bool
    examples: int
    threshold: float
    reports: dict[str, ModeReport] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return f"{self.name}+learned" if self.learned else self.name

    def as_dict(self) -> dict[str, Any]:
        return {
            "set": self.label,
            "examples": self.examples,
            "threshold": self.threshold,
            "modes": {
                m: {**r.as_dict(worst=0), "hit_at_1_ci95": round(half_width(r.hit_at_1, r.answerable), 4),
                    "outcomes": r.outcomes}
                for m, r in self.reports.items()
            },
        }


def load_sets(path: Path, root: Path | None = None) -> list[SuiteSet]:
    """The sets listed in `path` (a JSON list), their paths relative to `root` (the repository)."""
    root = Path(root) if root is not None else Path(path).resolve().parents[2]
    out = []
    for item in json.loads(Path(path).read_text(encoding="utf-8")):
        learning = item.get("learning")
        out.append(
            SuiteSet(
                name=item["name"],
                articles=root / item["articles"],
                queries=root / item["queries"],
                learning=root / learning if learning else None,
                note=item.get("note", ""),
                multilingual=bool(item.get("multilingual", False)),
            )
        )
    return out


def half_width(p: float, n: int) -> float:
    """Half the 95 % interval of a proportion measured on `n` cases (normal approximation)."""
    return Z95 * math.sqrt(max(p * (1 - p), 0.25 / max(n, 1)) / max(n, 1)) if n else 0.0


def evaluate_set(
    suite_set: SuiteSet,
    index_root: Path,
    embedder: QueryEmbedder,
    *,
    learned: bool = False,
    modes: tuple[str, ...] = EVAL_MODES,
    params: RankParams | None = None,
) -> SetResult:
    """Every mode's metrics for one set, ranked as the API ranks on that set's published build."""
    from kbserver.retrieval.reader import open_snapshot

    snapshot = open_snapshot(index_root)
    params = params or scoring.DEFAULT_PARAMS
    cases = load_cases(suite_set.queries)
    view = snapshot.view(allow_internal=True)
    result = SetResult(
        suite_set.name, learned, len(snapshot.examples), scoring.threshold(scoring.for_build(params, snapshot)),
    )
    for mode in modes:
        result.reports[mode] = evaluate(view, embedder, cases, mode, params)
    return result


# ---------------------------------------------------------------------------- tables


def fusion_margin(result: SetResult) -> float | None:
    """suggest hit@1 minus the better of keyword-only and semantic-only (None without all three)."""
    r = result.reports
    if not {"suggest", "keyword", "semantic"} <= set(r):
        return None
    return r["suggest"].hit_at_1 - max(r["keyword"].hit_at_1, r["semantic"].hit_at_1)


def table(results: list[SetResult]) -> str:
    """One Markdown table: per set and mode, hit@1 ± its 95 % interval, hit@3, MRR and the no-match flags."""
    lines = [
        "| set | mode | answerable | off-topic | hit@1 | ±95 % | hit@3 | MRR@10 | off-topic flagged | false flags |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for res in results:
        for mode, r in res.reports.items():
            lines.append(
                f"| {res.label} | {mode} | {r.answerable} | {r.offtopic} | {r.hit_at_1:.3f} | "
                f"{half_width(r.hit_at_1, r.answerable):.3f} | {r.hit_at_3:.3f} | {r.mrr_at_10:.3f} | "
                + (f"{r.offtopic_flagged:.3f}" if r.offtopic else "—")
                + f" | {r.false_flags:.3f} |"
            )
    return "\n".join(lines)


def summary(results: list[SetResult]) -> str:
    """Per set: suggest hit@1 against its best single signal, and the suite's means."""
    lines = [
        "| set | suggest hit@1 | best single (mode) | margin | off-topic flagged | false flags |",
        "|---|---|---|---|---|---|",
    ]
    margins, hits, flagged, false = [], [], [], []
    for res in results:
        s = res.reports.get("suggest")
        if s is None:
            continue
        margin = fusion_margin(res)
        singles: dict[str, float] = {m: res.reports[m].hit_at_1 for m in ("keyword", "semantic") if m in res.reports}
        best: str | None = max(singles, key=lambda m: singles[m]) if singles else None
        hits.append(s.hit_at_1)
        false.append(s.false_flags)
        if s.offtopic:
            flagged.append(s.offtopic_flagged)
        if margin is not None:
            margins.append(margin)
        lines.append(
            f"| {res.label} | {s.hit_at_1:.3f} | "
            + (f"{singles[best]:.3f} ({best})" if best else "—")
            + " | " + (f"{margin:+.3f}" if margin is not None else "—")
            + " | " + (f"{s.offtopic_flagged:.3f}" if s.offtopic else "—")
            + f" | {s.false_flags:.3f} |"
        )
    mean = lambda xs: sum(xs) / len(xs) if xs else float("nan")  # noqa: E731
    lines.append(
        f"| **mean** | **{mean(hits):.3f}** | | **{mean(margins):+.3f}** | {mean(flagged):.3f} | {mean(false):.3f} |"
    )
    return "\n".join(lines)


def choice_table(results: list[SetResult]) -> str:
    """Per set, how often suggest shows a choice (`scoring.ambiguity`) and what it buys: hit@1 of
    the messages shown as a choice against the rest, and how often the right article is in it."""
    lines = [
        "| set | shown as a choice | hit@1 when a choice | hit@1 otherwise | right article in the choice |",
        "|---|---|---|---|---|",
    ]
    shares, inside = [], []
    for res in results:
        s = res.reports.get("suggest")
        if s is None or not s.answerable:
            continue
        shares.append(s.ambiguous)
        if s.ambiguous:
            inside.append(s.in_choice)
        lines.append(
            f"| {res.label} | {s.ambiguous:.3f} | "
            + (f"{s.hit_at_1_ambiguous:.3f} | " if s.ambiguous else "— | ")
            + f"{s.hit_at_1_clear:.3f} | "
            + (f"{s.in_choice:.3f} |" if s.ambiguous else "— |")
        )
    mean = lambda xs: sum(xs) / len(xs) if xs else float("nan")  # noqa: E731
    lines.append(f"| **mean** | **{mean(shares):.3f}** | | | **{mean(inside):.3f}** |")
    return "\n".join(lines)


def paired_delta(before: list, after: list) -> tuple[float, float, int]:
    """Change in hit@1 between two runs over the same answerable cases, and its paired 95 % half-width.

    `before` and `after` are `ModeReport.outcomes` of one set; off-topic cases (rank None) are skipped.
    """
    diffs = [(a[0] == 0) - (b[0] == 0) for b, a in zip(before, after) if b[0] is not None]
    n = len(diffs)
    if not n:
        return 0.0, 0.0, 0
    mean = sum(diffs) / n
    var = sum((d - mean) ** 2 for d in diffs) / max(n - 1, 1)
    return mean, Z95 * math.sqrt(var / n), n


def compare(before: dict[str, Any], after: dict[str, Any], mode: str = "suggest") -> tuple[str, bool]:
    """Per-set hit@1 changes with paired intervals, as a Markdown table, and whether the change
    may be kept: the mean over sets rises and no set falls by more than its noise."""
    old = {s["set"]: s for s in before["sets"]}
    lines = ["| set | before | after | change | ±95 % (paired) | verdict |", "|---|---|---|---|---|---|"]
    deltas, keep = [], True
    for s in after["sets"]:
        b = old.get(s["set"])
        if b is None or mode not in s["modes"] or mode not in b["modes"]:
            continue
        nb, na = b["modes"][mode], s["modes"][mode]
        if len(nb["outcomes"]) != len(na["outcomes"]):
            lines.append(f"| {s['set']} | | | | | message file changed: not comparable |")
            continue
        delta, noise, _ = paired_delta(nb["outcomes"], na["outcomes"])
        deltas.append(delta)
        verdict = "up" if delta > noise else "DOWN" if -delta > noise else "within noise"
        keep &= verdict != "DOWN"
        lines.append(f"| {s['set']} | {nb['hit_at_1']:.3f} | {na['hit_at_1']:.3f} | {delta:+.3f} | {noise:.3f} | {verdict} |")
    mean = sum(deltas) / len(deltas) if deltas else 0.0
    keep = keep and mean > 0
    lines.append(f"| **mean** | | | **{mean:+.4f}** | | {'keep' if keep else 'do not keep'} |")
    return "\n".join(lines), keep
