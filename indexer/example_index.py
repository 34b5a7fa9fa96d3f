"""Approximate nearest neighbours over a build's learned examples, for teams with many of them.

Exact search multiplies each query vector by every example vector: at 600,000 examples
(2,000 articles x 300 resolved tickets) that is about 0.3 s a message on two cores. From
EXACT_BELOW examples on, `kb index` also writes an HNSW graph of them (usearch, int8
vectors, `examples.usearch`) that serving memory-maps. Suggest then asks the graph for the
CANDIDATES nearest examples of each query vector and scores only those, exactly, from the
float32 matrix (docs/learning.md, "At scale"). Below EXACT_BELOW exact search is fast, and
no graph is written.

usearch rather than faiss-cpu or hnswlib: one small wheel with no BLAS of its own, int8
storage, a graph that is served memory-mapped (`view=True`) without loading it, and
maintained (hnswlib's last release is from 2023). Pinned below 2.26: 2.26 crashes the
process when it is imported before onnxruntime (tests/test_example_index.py checks both
orders).
"""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path
from typing import Any, Sequence

import numpy as np

EXACT_BELOW = 20_000
CANDIDATES = 200
FILE = "examples.usearch"
CONNECTIVITY = 16
EXPANSION_ADD = 128
EXPANSION_SEARCH = 256


def index_key(example_hashes: Sequence[str]) -> str:
    """What an example graph depends on: its examples, in order, and how it was built.
    Two builds with the same key can share the file (a rebuild after an article edit)."""
    digest = hashlib.sha256(f"usearch i8 cos {CONNECTIVITY} {EXPANSION_ADD}\n".encode())
    for h in example_hashes:
        digest.update(h.encode() + b"\n")
    return digest.hexdigest()


def write(path: Path, vectors: np.ndarray, *, reuse_from: Path | None = None) -> None:
    """Write the graph of `vectors` (row i is key i) to `path`; hard-link `reuse_from` instead when given."""
    if reuse_from is not None and reuse_from.exists():
        try:
            os.link(reuse_from, path)
        except OSError:
            shutil.copyfile(reuse_from, path)
        return
    from usearch.index import Index  # only builds with many examples need it

    index = Index(ndim=vectors.shape[1], metric="cos", dtype="i8", connectivity=CONNECTIVITY,
                  expansion_add=EXPANSION_ADD, expansion_search=EXPANSION_SEARCH)
    index.add(np.arange(len(vectors), dtype=np.uint64), np.ascontiguousarray(vectors, dtype=np.float32), threads=0)
    index.save(str(path))


def open_view(path: Path, count: int) -> Any | None:
    """The graph at `path`, memory-mapped, or None when the build has none. Raises ValueError
    when it does not hold `count` examples (a graph of another build's examples)."""
    if not path.exists():
        return None
    from usearch.index import Index

    index = Index.restore(str(path), view=True)
    if index is None or len(index) != count:
        raise ValueError(f"{path} holds {0 if index is None else len(index)} examples, the build has {count}")
    index.expansion_search = EXPANSION_SEARCH  # type: ignore[misc]  # settable at run time, read-only in the stubs
    return index


def candidates(index: Any, vectors: np.ndarray, count: int, k: int = CANDIDATES) -> np.ndarray:
    """The sorted, distinct example rows nearest any of `vectors` (k per vector)."""
    found = index.search(np.ascontiguousarray(vectors, dtype=np.float32), min(k, count), threads=1)
    keys = np.asarray(found.keys).reshape(-1)
    return np.unique(keys[keys < count]).astype(np.int64)
