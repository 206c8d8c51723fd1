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

A spec may carry its own :class:`~.specs.Recipe` (how many mined pairs of which kinds,
epochs, learning rate, loss weights); the CLI's shared data and options apply to the others.
The specs and options are in :mod:`.specs`, the bases in :mod:`.bases`, model selection in
:mod:`.dev` and checkpoints in :mod:`.checkpoint`.
"""

from __future__ import annotations

import json
import math
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import numpy as np

from codequest.distill import require_training_deps, say

require_training_deps()

import torch  # noqa: E402
from torch import nn  # noqa: E402

from codequest.distill.bases import Featurizer, cached_features, make_featurizer  # noqa: E402
from codequest.distill.checkpoint import load_checkpoint, save_checkpoint  # noqa: E402
from codequest.distill.data import TrainingData  # noqa: E402
from codequest.distill.dev import dev_ndcg, served_dev_ndcg  # noqa: E402
from codequest.distill.modules import CutStudent, Map, lora_delta, ridge_init  # noqa: E402
from codequest.distill.specs import (  # noqa: E402
    SPECS,
    DevSet,
    StudentSpec,
    TrainOptions,
    TrainResult,
)
from codequest.errors import TrainingInterrupted  # noqa: E402

RIDGE_SAMPLE = 10_000  # training queries whose frozen features fit a LoRA student's ridge start
# Progress lines during a LoRA epoch: one every this many steps.
STEP_REPORT = 50


def seed_everything(seed: int, threads: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.set_num_threads(threads)


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


# -- batches -------------------------------------------------------------------------------
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


# -- training ------------------------------------------------------------------------------
class _Training:
    """One student's training run, step by step (see :func:`train_student`)."""

    def __init__(
        self,
        spec: StudentSpec,
        data: TrainingData,
        dev: DevSet,
        *,
        teacher_path: str,
        options: TrainOptions,
        work_dir: Path,
        tokenizer: Any,
    ) -> None:
        self.spec, self.data, self.dev = spec, data, dev
        self.teacher_path, self.options = teacher_path, options
        self.work_dir, self.tokenizer = work_dir, tokenizer
        self.started = time.monotonic()
        self.n = len(data.pairs)
        self.queries = [p.query for p in data.pairs]
        self.tq_all = torch.from_numpy(data.query_vectors)
        self.tc_all = torch.from_numpy(data.code_vectors)
        self.code_index = torch.from_numpy(data.code_index)
        self.checkpoint = work_dir / "checkpoint.pt"
        self.student: CutStudent | None = None
        self.dev_feats: np.ndarray | None = None

    # -- the model ---------------------------------------------------------------------------
    def build(self) -> None:
        """The base, the map from its ridge start, LoRA on a cut base, and the optimizer."""
        spec, options = self.spec, self.options
        say(f"[distill] {spec.name}: building the {spec.base} base ...")
        self.featurizer: Featurizer
        self.featurizer, self.base_state = make_featurizer(
            spec, self.teacher_path, self.tokenizer, options.threads
        )
        # A LoRA student uses the frozen features only for the map's ridge start: a sample
        # will do.
        n_ridge = min(self.n, RIDGE_SAMPLE) if spec.lora_rank else self.n
        say(f"[distill] {spec.name}: base features of {n_ridge} training queries ...")
        features = self.cached(self.queries[:n_ridge])
        self.mapping = Map(self.featurizer.dim, self.tq_all.shape[1], spec.map)
        ridge = ridge_init(features, self.data.query_vectors[:n_ridge])
        self.mapping.load_numpy({**self.mapping.to_numpy(), **ridge})
        params: list[dict[str, Any]] = [
            {"params": list(self.mapping.parameters()), "lr": options.lr}
        ]
        if spec.lora_rank:
            params.append(self.add_lora())
        self.optimizer = torch.optim.AdamW(params, weight_decay=0.0)
        if self.student is None:
            self.dev_feats = self.cached(self.dev.queries)
        self.features_t = torch.from_numpy(features)

    def add_lora(self) -> dict[str, Any]:
        """LoRA factors on the cut transformer; returns their optimizer parameter group."""
        from peft import LoraConfig, get_peft_model

        from codequest.distill.bases import CutFeaturizer

        spec = self.spec
        assert isinstance(self.featurizer, CutFeaturizer)
        lora_config = LoraConfig(
            r=spec.lora_rank,
            lora_alpha=2 * spec.lora_rank,
            lora_dropout=0.0,
            target_modules=list(spec.lora_targets),
            bias="none",
        )
        peft_transformer = get_peft_model(self.featurizer.model.transformer, lora_config)
        self.student = CutStudent(peft_transformer, self.mapping)
        trainable = [p for p in peft_transformer.parameters() if p.requires_grad]
        return {"params": trainable, "lr": self.options.lora_lr}

    def cached(self, texts: Sequence[str]) -> np.ndarray:
        return cached_features(self.featurizer, self.spec, self.teacher_path, texts)

    def tokens(self, texts: Sequence[str], max_length: int) -> Any:
        return self.tokenizer(
            list(texts), padding=True, truncation=True, max_length=max_length, return_tensors="pt"
        )

    def vectors(self, texts: Sequence[str], feats: np.ndarray | None = None) -> np.ndarray:
        """The student's query vectors (unnormalised)."""
        with torch.no_grad():
            if self.student is None:
                x = torch.from_numpy(feats if feats is not None else self.featurizer(texts))
                return self.mapping(x).numpy()
            self.student.eval()
            out = [
                self.student(**self.tokens(texts[start : start + 256], 128)).numpy()
                for start in range(0, len(texts), 256)
            ]
            return np.concatenate(out)

    def current_lora(self) -> dict[str, np.ndarray]:
        return lora_delta(self.student.transformer) if self.student is not None else {}

    def scores(self) -> tuple[float, float]:
        """Dev NDCG@10 of the torch student and of its served form (the same when fp32)."""
        torch_score = dev_ndcg(self.dev, self.vectors(self.dev.queries, self.dev_feats))
        if not self.spec.served_int8:
            return torch_score, torch_score
        served = served_dev_ndcg(
            self.spec,
            self.mapping.to_numpy(),
            self.current_lora(),
            self.dev,
            teacher_path=self.teacher_path,
            folder=self.work_dir / "served",
            threads=self.options.threads,
        )
        return torch_score, served

    # -- state -----------------------------------------------------------------------------
    def checkpoint_key(self) -> str:
        """Everything that makes a checkpoint reusable. The epoch count is left out, so asking
        for more epochs resumes instead of restarting, unless a schedule depends on it."""
        spec, options = self.spec, self.options
        spec_key = (
            asdict(replace(spec, recipe=replace(spec.recipe, epochs=0)))
            if spec.recipe
            else asdict(spec)
        )
        key_options = options if options.schedule != "constant" else replace(options, epochs=0)
        return json.dumps([spec_key, asdict(key_options), self.n], sort_keys=True)

    def resume(self, key: str) -> dict[str, Any]:
        """The training state of a matching checkpoint (its weights loaded), else a new one."""
        state: dict[str, Any] = {"epoch": 0, "best": -1.0, "best_epoch": 0, "history": []}
        saved = load_checkpoint(self.checkpoint) if self.checkpoint.is_file() else None
        if saved is None or saved.get("key") != key:
            return state
        self.mapping.load_state_dict(saved["map"])
        if self.student is not None:
            self.student.transformer.load_state_dict(saved["transformer"], strict=False)
        self.optimizer.load_state_dict(saved["optimizer"])
        torch.set_rng_state(saved["rng"])
        say(f"[distill] {self.spec.name}: resumed after epoch {saved['state']['epoch']}")
        state = saved["state"]
        return state

    def start(self, state: dict[str, Any]) -> None:
        """Epoch 0: the ridge start is the best so far."""
        initial, initial_served = self.scores()
        state["best"], state["best_epoch"] = initial_served, 0
        state["best_map"] = self.mapping.to_numpy()
        # LoRA's B starts at zero, so the epoch-0 delta is the plain cut; keep its shape.
        state["best_lora"] = self.current_lora()
        say(
            f"[distill] {self.spec.name}: ridge start, dev NDCG@10 {initial:.4f}"
            + (f", served int8 {initial_served:.4f}" if self.spec.served_int8 else "")
        )

    def save(self, key: str, state: dict[str, Any]) -> None:
        student = self.student
        save_checkpoint(
            {
                "key": key,
                "state": state,
                "map": self.mapping.state_dict(),
                "transformer": (student.transformer.state_dict() if student else {}),
                "optimizer": self.optimizer.state_dict(),
                "rng": torch.get_rng_state(),
            },
            self.checkpoint,
        )

    # -- epochs ----------------------------------------------------------------------------
    def batches(self) -> list[torch.Tensor]:
        options = self.options
        if self.student is None:
            order = torch.randperm(self.n)
            return [order[s : s + options.batch_size] for s in range(0, self.n, options.batch_size)]
        # Transformer steps cost by padded length: batch similar lengths together.
        batches = length_batches(self.queries, options.batch_size)
        self.student.train(options.dropout)
        return batches

    def step(self, idx: torch.Tensor, factor: float) -> float:
        """One optimizer step on the rows ``idx`` at learning-rate multiplier ``factor``."""
        for group in self.optimizer.param_groups:
            group["lr"] = group.setdefault("initial_lr", group["lr"]) * factor
        if self.student is None:
            out = self.mapping(self.features_t[idx])
        else:
            batch = self.tokens([self.queries[i] for i in idx.tolist()], self.options.max_length)
            out = self.student.map(self.student.pooled(**batch))
        codes = self.code_index[idx]
        # No code embedded (code_limit 0): the loss is matching only.
        tq, tc_all = self.tq_all[idx], self.tc_all
        tc = tc_all[codes.clamp(min=0)] if len(tc_all) else torch.zeros_like(tq)
        loss = distill_loss(out, tq, tc, codes, self.options)
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()
        return float(loss.detach())

    def epoch(self, epoch: int, steps_per_epoch: int, total_steps: int) -> dict[str, float]:
        """Train one epoch and score it; returns its history row."""
        batches = self.batches()
        total, steps = 0.0, 0
        for idx in batches:
            if len(idx) < 2:
                continue
            factor = self.options.lr_factor((epoch - 1) * steps_per_epoch + steps, total_steps)
            total += self.step(idx, factor)
            steps += 1
            if self.student is not None and steps % STEP_REPORT == 0:
                say(
                    f"[distill] {self.spec.name}: epoch {epoch} step {steps}/{len(batches)} "
                    f"loss {total / steps:.4f} ({time.monotonic() - self.started:.0f}s)"
                )
        torch_score, score = self.scores()
        row = {"epoch": epoch, "loss": total / max(1, steps), "dev_ndcg@10": torch_score}
        if self.spec.served_int8:
            row["dev_ndcg@10_int8"] = score
        return row

    def keep_if_best(self, state: dict[str, Any], epoch: int, row: dict[str, float]) -> None:
        score = row.get("dev_ndcg@10_int8", row["dev_ndcg@10"])
        state["history"].append(row)
        if score > state["best"]:
            state["best"], state["best_epoch"] = score, epoch
            state["best_map"] = self.mapping.to_numpy()
            state["best_lora"] = self.current_lora()
        state["epoch"] = epoch

    def report(self, epoch: int, row: dict[str, float]) -> None:
        served = row.get("dev_ndcg@10_int8")
        say(
            f"[distill] {self.spec.name}: epoch {epoch}/{self.options.epochs} "
            f"loss {row['loss']:.4f} dev NDCG@10 {row['dev_ndcg@10']:.4f}"
            + (f", served int8 {served:.4f}" if served is not None else "")
            + f" ({time.monotonic() - self.started:.0f}s)"
        )


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
    seed_everything(options.seed, options.threads)
    work_dir.mkdir(parents=True, exist_ok=True)
    run = _Training(
        spec,
        data,
        dev,
        teacher_path=teacher_path,
        options=options,
        work_dir=work_dir,
        tokenizer=tokenizer,
    )
    run.build()
    key = run.checkpoint_key()
    state = run.resume(key)
    if state["epoch"] == 0:
        run.start(state)
    steps_per_epoch = math.ceil(run.n / options.batch_size)
    total_steps = options.epochs * steps_per_epoch
    try:
        for epoch in range(state["epoch"] + 1, options.epochs + 1):
            row = run.epoch(epoch, steps_per_epoch, total_steps)
            run.keep_if_best(state, epoch, row)
            run.save(key, state)
            run.report(epoch, row)
            if on_epoch is not None:
                on_epoch(epoch, row)
    except KeyboardInterrupt as err:
        raise TrainingInterrupted(
            f"{spec.name}: interrupted; finished epochs are checkpointed in {run.checkpoint}, "
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
        seconds=time.monotonic() - run.started,
        base_state=run.base_state,
    )


__all__ = ["SPECS", "StudentSpec", "TrainOptions", "TrainResult", "train_student", "replace"]
