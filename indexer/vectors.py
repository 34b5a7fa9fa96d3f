"""Chunk vectors as an append-only log that successive builds share (index format 5).

Until format 4 every build wrote its own `embeddings.npy`, one float32 row per chunk. A
one-edit rebuild therefore read the live build's whole matrix, copied it row by row into a
new one and wrote and fsynced that: 850 MB at 50,000 articles, most of the rebuild
(docs/benchmarks.md, "50,000 articles").

Now a build holds two files instead:

    vectors.f32        float32 rows of DIM values, no header: the vector log
    vector_slots.npy   int64, one per chunk: the row of the log that holds its vector

and a rebuild *hard-links* the live build's `vectors.f32` and appends only the vectors it
embedded. The one rule that makes sharing safe: **bytes of a log, once written, are never
changed**. A build reads only the rows its slots name, all below the log's length when it
was written, so the build being served is never disturbed by the next one appending; a
build that dies halfway leaves at most some unreferenced rows at the end. Identical texts
share a row, so the log is also smaller than the matrix was (41,566 rows for 55,290 chunks
at 5,000 articles).

Rows no chunk of the new build uses any more (edited or deleted texts) stay in the log.
When they would be more than half of it, the build writes a compact log of its own (a new
file, not a link), so the log never grows past twice what the build needs.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from indexer.embedding import DIM

LOG = "vectors.f32"
SLOTS = "vector_slots.npy"
ROW_BYTES = DIM * 4
COMPACT_WHEN_DEAD = 0.5  # a new log when more than this share of rows would be unused
_BLOCK = 32_768  # rows gathered at a time, so reading never holds a second full copy


def rows_in(path: Path) -> int:
    """Complete rows in the log file at `path` (a torn last row from a killed build is not one)."""
    return os.stat(path).st_size // ROW_BYTES


def open_log(path: Path, rows: int | None = None) -> np.ndarray:
    """The first `rows` rows (default: all complete rows) of a log, memory-mapped read-only."""
    rows = rows_in(path) if rows is None else rows
    if rows == 0:
        return np.zeros((0, DIM), dtype=np.float32)
    return np.memmap(path, dtype="<f4", mode="r", shape=(rows, DIM))


def read_slots(build: Path) -> np.ndarray:
    return np.load(Path(build) / SLOTS, allow_pickle=False)


def has_log(build: Path) -> bool:
    return (Path(build) / SLOTS).exists()


def gather(build: Path, *, transposed: bool = False) -> np.ndarray:
    """The build's chunk vectors in chunk order, `(chunks, DIM)` or `(DIM, chunks)`, read
    block by block from the log (one sequential-ish pass; no second full-size copy)."""
    build = Path(build)
    slots = read_slots(build)
    if len(slots) and (slots.min() < 0 or int(slots.max()) >= rows_in(build / LOG)):
        raise ValueError(f"{build}: a vector slot lies outside {LOG}")
    log = open_log(build / LOG, int(slots.max()) + 1 if len(slots) else 0)
    out = np.empty((DIM, len(slots)) if transposed else (len(slots), DIM), dtype=np.float32)
    for start in range(0, len(slots), _BLOCK):
        block = log[slots[start : start + _BLOCK]]
        if transposed:
            out[:, start : start + len(block)] = block.T
        else:
            out[start : start + len(block)] = block
    return out


def write(build: Path, slots: np.ndarray, fresh: np.ndarray, *, base: Path | None) -> dict[str, int]:
    """Write the build's vector log and slots; returns what it did (for the manifest's stats).

    `slots[i] >= 0` is row `slots[i]` of the log at `base` (the live build's `vectors.f32`);
    `slots[i] < 0` is vector `-slots[i] - 1` of `fresh` (rows that share a text share one).
    With `base` None, or when the result would be mostly dead rows, a new compact log is
    written instead of a link.
    """
    build = Path(build)
    slots = np.asarray(slots, dtype=np.int64)
    fresh = np.ascontiguousarray(fresh, dtype="<f4").reshape(-1, DIM)
    target = build / LOG
    base_rows = rows_in(base) if base is not None and base.exists() else 0
    old = slots >= 0
    used = np.unique(slots[old])
    if len(used) and int(used[-1]) >= base_rows:
        raise ValueError(f"a vector slot lies outside {base}")
    if base is not None and base_rows and (base_rows + len(fresh)) * COMPACT_WHEN_DEAD <= len(used) + len(fresh):
        try:
            os.link(base, target)
        except OSError:
            target.unlink(missing_ok=True)  # another file system, or no hard links: write a compact log
        else:
            with open(target, "r+b") as fh:  # never "wb": other builds share these bytes
                fh.seek(base_rows * ROW_BYTES)  # after the last complete row (a torn one is overwritten)
                fh.write(fresh.tobytes())
                fh.flush()
                os.fsync(fh.fileno())
            np.save(build / SLOTS, np.where(old, slots, base_rows - slots - 1), allow_pickle=False)
            return {"log_rows": base_rows + len(fresh), "appended": len(fresh), "linked": 1}
    # A compact log: the rows the build uses, in order of first use, then the fresh ones.
    order, first = np.unique(slots[old], return_index=True)
    order = order[np.argsort(first)]
    new_slot = np.full(base_rows, -1, dtype=np.int64)
    new_slot[order] = np.arange(len(order))
    log = open_log(base, base_rows) if base is not None and base_rows else np.zeros((0, DIM), dtype=np.float32)
    with open(target, "wb") as fh:  # a new file: nothing shares it yet
        for start in range(0, len(order), _BLOCK):
            fh.write(np.ascontiguousarray(log[order[start : start + _BLOCK]], dtype="<f4").tobytes())
        fh.write(fresh.tobytes())
    compact = len(order) - slots - 1  # the fresh rows; then the reused ones
    compact[old] = new_slot[slots[old]]
    np.save(build / SLOTS, compact, allow_pickle=False)
    return {"log_rows": len(order) + len(fresh), "appended": len(fresh), "linked": 0}
