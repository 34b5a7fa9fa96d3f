"""Write the public suite's message files (and StackFAQ's articles) from ../shared/datasets.

Run once, from the repository root, whenever a set's `intents.json` changes:

    .venv/bin/python tests/eval/suite/make_sets.py --datasets ../shared/datasets

The articles of the labels-only sets were written by hand from each intent's name and its
**training** messages (see each set's README.md); this script never shows test messages to
anyone writing articles, it only labels them with the article their intent maps to:

- `queries.jsonl`: the **test** messages, `{"query", "relevant": [article id]}`, plus the
  set's off-topic cases (`relevant: []`): HINT3's messages no intent answers, CLINC150's
  out-of-scope messages and a sample of the other domains' messages.
- `learning.jsonl`: the **training** messages as resolved tickets for `kb learn import`
  (`{"text", "article_id", "outcome"}`), for the "+learned" rows of the suite.

Samples are drawn with a fixed seed, so the files are reproducible byte for byte.
"""

from __future__ import annotations

import argparse
import json
import random
import re
from pathlib import Path

HERE = Path(__file__).resolve().parent
SEED = 20261202

# CLINC150 sets: which domains each knowledge base covers. Off-topic cases are out-of-scope
# messages and messages of other domains, except intents another domain's KB would answer
# (a bank does handle "tell my bank I'm travelling").
CLINC_SETS = {
    "clinc-bank": {"domains": ["banking", "credit_cards"], "not_offtopic": ["travel_notification", "exchange_rate", "direct_deposit"]},
    "clinc-work": {"domains": ["work"], "not_offtopic": []},
    "clinc-travel": {"domains": ["travel"], "not_offtopic": ["international_fees"]},
}
CLINC_PER_INTENT = 15  # test messages per intent (of 30): the suite runs in CI
CLINC_OUT_OF_SCOPE = 150
CLINC_OTHER_DOMAINS = 100
HINT3_SETS = ("sofmattress", "curekart", "powerplay11")
HINT3_MAX_OFFTOPIC = 200
STACKFAQ_MAX_QUERIES = 600
STACKFAQ_OFFTOPIC = 100


def write_jsonl(path: Path, rows: list[dict]) -> None:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def intents_of(name: str) -> dict[str, str]:
    return json.loads((HERE / name / "intents.json").read_text(encoding="utf-8"))


def learning_rows(train: list[dict], intents: dict[str, str]) -> list[dict]:
    return [
        {"text": r["text"], "article_id": intents[r["intent"]], "outcome": "resolved_first_contact"}
        for r in train
        if r["intent"] in intents
    ]


def hint3(datasets: Path) -> None:
    for shop in HINT3_SETS:
        name = f"hint3-{shop}"
        rng = random.Random(f"{SEED}-{name}")
        if not (HERE / name / "intents.json").exists():
            print(f"skip {name}: no intents.json yet")
            continue
        intents = intents_of(name)
        test = read_jsonl(datasets / "hint3" / shop / "test.jsonl")
        train = read_jsonl(datasets / "hint3" / shop / "train.jsonl")
        answerable = [{"query": r["text"], "relevant": [intents[r["intent"]]]} for r in test if r["intent"] in intents]
        unanswered = [r["text"] for r in test if r["intent"] is None]
        offtopic = [{"query": t, "relevant": []} for t in rng.sample(unanswered, min(HINT3_MAX_OFFTOPIC, len(unanswered)))]
        unknown = {r["intent"] for r in test if r["intent"] and r["intent"] not in intents}
        if unknown:
            print(f"{name}: test intents without an article (dropped): {sorted(unknown)}")
        write_jsonl(HERE / name / "queries.jsonl", answerable + offtopic)
        write_jsonl(HERE / name / "learning.jsonl", learning_rows(train, intents))
        print(f"{name}: {len(answerable)} answerable + {len(offtopic)} off-topic; {len(train)} learnable")


def clinc(datasets: Path) -> None:
    test = read_jsonl(datasets / "clinc150" / "test.jsonl")
    train = read_jsonl(datasets / "clinc150" / "train.jsonl")
    out_of_scope = [r["text"] for r in test if r["intent"] is None]
    for name, spec in CLINC_SETS.items():
        rng = random.Random(f"{SEED}-{name}")
        if not (HERE / name / "intents.json").exists():
            print(f"skip {name}: no intents.json yet")
            continue
        intents = intents_of(name)
        covered = set(spec["domains"])
        answerable = []
        by_intent: dict[str, list[str]] = {}
        for r in test:
            if r["domain"] in covered:
                by_intent.setdefault(r["intent"], []).append(r["text"])
        for intent in sorted(by_intent):
            for text in rng.sample(by_intent[intent], min(CLINC_PER_INTENT, len(by_intent[intent]))):
                answerable.append({"query": text, "relevant": [intents[intent]]})
        others = [
            r["text"] for r in test
            if r["intent"] is not None and r["domain"] not in covered and r["intent"] not in spec["not_offtopic"]
        ]
        offtopic = rng.sample(out_of_scope, CLINC_OUT_OF_SCOPE) + rng.sample(others, CLINC_OTHER_DOMAINS)
        write_jsonl(HERE / name / "queries.jsonl", answerable + [{"query": t, "relevant": []} for t in offtopic])
        learnable = [r for r in train if r["domain"] in covered]
        write_jsonl(HERE / name / "learning.jsonl", learning_rows(learnable, intents))
        print(f"{name}: {len(answerable)} answerable + {len(offtopic)} off-topic; {len(learnable)} learnable")


def _slug(text: str, taken: set[str]) -> str:
    words = re.findall(r"[a-z0-9]+", text.lower())
    slug = "-".join(words)[:60].rstrip("-") or "faq"
    base, n = slug, 2
    while slug in taken:
        slug, n = f"{base}-{n}", n + 1
    taken.add(slug)
    return slug


def _markdown_safe(text: str) -> str:
    """StackExchange answers as plain prose: markup and scripts they quote are left out, never run."""
    text = re.sub(r"</?[A-Za-z][^<>]*>", " ", text)
    text = re.sub(r"(?i)(javascript|vbscript)\s*:", "bookmarklet ", text)
    text = re.sub(r"(?i)data\s*:\s*text/html", "an HTML data URL", text)
    text = re.sub(r"(?i)([\s/\"'])(on[a-z]+)\s*=", r"\1\2 is set to ", text)
    text = re.sub(r"(?m)^(\s*)(#+|[-*+]|\d+[.)])(\s)", r"\1\\\2\3", text)
    return re.sub(r"\s{2,}", "  ", text).strip()


def _first_sentence(text: str, limit: int = 200) -> str:
    sentence = re.split(r"(?<=[.!?])\s", text.strip(), maxsplit=1)[0]
    if len(sentence) > limit:
        sentence = sentence[:limit].rsplit(" ", 1)[0] + "…"
    return sentence


def stackfaq(datasets: Path) -> None:
    """StackFAQ's threads are already a knowledge base: one `product` page of answers per thread."""
    name = "stackfaq"
    root = HERE / name / "articles" / "faq"
    root.mkdir(parents=True, exist_ok=True)
    for old in root.glob("*.md"):
        old.unlink()
    rng = random.Random(f"{SEED}-{name}")
    threads = read_jsonl(datasets / "stackfaq" / "threads.jsonl")
    taken: set[str] = set()
    ids: dict[str, str] = {}
    for thread in threads:
        slug = _slug(thread["question"], taken)
        ids[thread["id"]] = f"faq/{slug}"
        answers = [_markdown_safe(a) for a in thread["answers"] if a.strip()][:4]
        summary = _first_sentence(answers[0]) if answers else thread["question"]
        body = [f"Community answers to: {_markdown_safe(thread['question'])}", "", "## Answer", "", answers[0] if answers else ""]
        if len(answers) > 1:
            body += ["", "## Other ways", ""]
            body += [p for a in answers[1:] for p in (a, "")]
        front = {
            "title": thread["question"].strip(),
            "type": "product",
            "summary": summary,
            "owner": "Web apps FAQ team",
            "tags": ["faq"],
            "audience": "public",
        }
        lines = ["---", *(f"{k}: {json.dumps(v, ensure_ascii=False)}" for k, v in front.items()), "---", "", *body]
        (root / f"{slug}.md").write_text("\n".join(lines).rstrip() + "\n", encoding="utf-8")
    queries = read_jsonl(datasets / "stackfaq" / "queries.jsonl")
    picked = rng.sample(queries, min(STACKFAQ_MAX_QUERIES, len(queries)))
    clinc_test = read_jsonl(datasets / "clinc150" / "test.jsonl")
    out_of_scope = [r["text"] for r in clinc_test if r["intent"] is None]
    rows = [{"query": q["text"], "relevant": [ids[q["id"]]]} for q in picked]
    rows += [{"query": t, "relevant": []} for t in rng.sample(out_of_scope, STACKFAQ_OFFTOPIC)]
    write_jsonl(HERE / name / "queries.jsonl", rows)
    print(f"{name}: {len(threads)} articles; {len(picked)} answerable + {STACKFAQ_OFFTOPIC} off-topic")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", type=Path, default=HERE.parents[3] / "shared" / "datasets")
    args = parser.parse_args()
    # Each set draws from its own generator, so adding a set never reshuffles another.
    hint3(args.datasets)
    clinc(args.datasets)
    stackfaq(args.datasets)


if __name__ == "__main__":
    main()
