"""The student's torch graph and its ONNX export: what turns a shipped delta into a model.

A ``cut`` student is some of the teacher's own transformer layers (``keep``, e.g. the
first, middle and last), with LoRA factors merged into their weights, mean pooled, then a
map into the teacher's space (``linear``: W x + b; ``mlp``: a residual block on top).

Needs torch, transformers, onnx and onnxruntime: all core dependencies, so a plain
``pip install codequest`` can build the shipped student. Training (:mod:`codequest.distill`)
uses these same pieces and adds peft and model2vec; nothing here imports them. Only
:mod:`codequest.encoders.build` imports this module, and only to build an artifact, so the
query path never loads torch.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from codequest.encoders.export import export_onnx as export_pooled
from codequest.encoders.export import quiet_quantizer


class Map(nn.Module):
    """Linear or residual-MLP map from the base's dimension to the teacher's.

    Its weights travel as numpy arrays (:meth:`to_numpy`, :meth:`load_numpy`): ``W`` is
    ``(d_in, d_out)``, so ``x @ W + b`` applies it without torch (``static_query``).
    """

    def __init__(self, d_in: int, d_out: int, kind: str = "linear", hidden: int = 512) -> None:
        super().__init__()
        if kind not in ("linear", "mlp"):
            raise ValueError(f"unknown map kind {kind!r}; expected 'linear' or 'mlp'")
        self.kind = kind
        self.linear = nn.Linear(d_in, d_out)
        if kind == "mlp":
            self.up = nn.Linear(d_in, hidden)
            self.down = nn.Linear(hidden, d_out)
            nn.init.zeros_(self.down.weight)  # starts as the linear map
            nn.init.zeros_(self.down.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.linear(x)
        if self.kind == "mlp":
            y = y + self.down(nn.functional.gelu(self.up(x), approximate="tanh"))
        return y

    def to_numpy(self) -> dict[str, np.ndarray]:
        out = {
            "W": self.linear.weight.detach().numpy().T.copy(),
            "b": self.linear.bias.detach().numpy(),
        }
        if self.kind == "mlp":
            out.update(
                W1=self.up.weight.detach().numpy().T.copy(),
                b1=self.up.bias.detach().numpy(),
                W2=self.down.weight.detach().numpy().T.copy(),
                b2=self.down.bias.detach().numpy(),
            )
        return out

    def load_numpy(self, arrays: dict[str, np.ndarray]) -> None:
        with torch.no_grad():
            self.linear.weight.copy_(torch.from_numpy(np.asarray(arrays["W"]).T.copy()))
            self.linear.bias.copy_(torch.from_numpy(np.asarray(arrays["b"])))
            if self.kind == "mlp":
                self.up.weight.copy_(torch.from_numpy(np.asarray(arrays["W1"]).T.copy()))
                self.up.bias.copy_(torch.from_numpy(np.asarray(arrays["b1"])))
                self.down.weight.copy_(torch.from_numpy(np.asarray(arrays["W2"]).T.copy()))
                self.down.bias.copy_(torch.from_numpy(np.asarray(arrays["b2"])))


def cut_teacher(
    teacher_path: str, layers: int, keep: Sequence[int] = (), *, attention: str | None = None
) -> Any:
    """The teacher's transformer with only its first ``layers`` layers, or those in ``keep``.

    Keeping the last layer matters: the teacher's space is what its last layer writes
    (docs/distill.md compares the choices). ``attention`` picks transformers' attention
    implementation ("eager" for an export whose attention can be fused).
    """
    from transformers import AutoModel

    extra = {"attn_implementation": attention} if attention else {}
    # Never code or pickles from the folder: see encoders.models.load_sentence_transformer.
    model = AutoModel.from_pretrained(
        teacher_path, trust_remote_code=False, use_safetensors=True, **extra
    )
    total = len(model.encoder.layer)
    chosen = list(keep) if keep else list(range(layers))
    if len(chosen) != layers or not all(0 <= i < total for i in chosen):
        raise ValueError(
            f"cannot keep layers {chosen} ({layers} wanted) of a {total}-layer teacher"
        )
    model.encoder.layer = nn.ModuleList([model.encoder.layer[i] for i in chosen])
    model.config.num_hidden_layers = layers
    return model.float().eval()


def mean_pool(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    m = mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * m).sum(1) / m.sum(1).clamp(min=1e-9)


class CutStudent(nn.Module):
    """A cut of the teacher, mean pooled, then a map; outputs normalised vectors."""

    def __init__(self, transformer: Any, mapping: Map) -> None:
        super().__init__()
        self.transformer = transformer
        self.map = mapping

    def pooled(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> torch.Tensor:
        hidden = self.transformer(
            input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
        ).last_hidden_state
        return mean_pool(hidden, attention_mask)

    def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> torch.Tensor:
        pooled = self.pooled(input_ids, attention_mask, token_type_ids)
        return nn.functional.normalize(self.map(pooled), p=2, dim=1)


def apply_lora_delta(transformer: Any, delta: dict[str, np.ndarray]) -> None:
    """Merge ``W += B @ A`` into a plain transformer, for every ``<module>.A`` / ``.B`` pair.

    ``B`` already carries the LoRA scaling (alpha / rank), as
    :func:`codequest.distill.modules.lora_delta` writes it, so the merge is what peft's
    ``merge_and_unload`` computes, without peft.
    """
    modules = dict(transformer.named_modules())
    names = sorted({k[: -len(".A")] for k in delta if k.endswith(".A")})
    with torch.no_grad():
        for name in names:
            # Older deltas named modules with a leftover "model." prefix.
            target = modules.get(name) or modules.get(name.removeprefix("model."))
            if target is None:
                raise KeyError(f"LoRA delta names module {name!r}, not in the transformer")
            update = torch.from_numpy(delta[f"{name}.B"] @ delta[f"{name}.A"])
            target.weight.add_(update.to(target.weight.dtype))


def export_student(module: nn.Module, path: Path, *, int8: bool = False) -> None:
    """Export to ONNX; ``int8`` quantises the weights (ONNX Runtime dynamic, per channel).

    Before quantising, attention and layer norms are fused where ONNX Runtime's transformer
    optimizer recognises them (:func:`fuse_attention`).
    """
    if not int8:
        export_pooled(module, path)
        return
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quiet_quantizer()
    fp32 = path.with_suffix(".fp32.onnx")
    fused = path.with_suffix(".fused.onnx")
    export_pooled(module, fp32)
    try:
        config = getattr(getattr(module, "transformer", None), "config", None)
        source = fp32
        if config is not None and fuse_attention(
            fp32,
            fused,
            int(config.num_attention_heads),
            int(config.hidden_size),
            int(config.vocab_size),
        ):
            source = fused
        quantize_dynamic(
            str(source),
            str(path),
            weight_type=QuantType.QInt8,
            per_channel=True,
            # Fused operators (com.microsoft domain) defeat the quantizer's shape inference.
            extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
        )
    finally:
        fp32.unlink(missing_ok=True)
        fused.unlink(missing_ok=True)


def fuse_attention(
    source: Path, target: Path, num_heads: int, hidden_size: int, vocab_size: int
) -> bool:
    """Fuse a BERT-style graph's attention and layer-norm subgraphs into ONNX Runtime's
    contrib operators; False (nothing kept) when the attention did not fuse or the fused
    graph does not compute what the source graph computes.

    The plain export spends half its kernels on shape arithmetic around the attention, so
    the fused graph answers a query faster (docs/distill.md, build recipe 2). Only the
    "eager" attention export fuses: torch's scaled-dot-product export does not match the
    optimizer's patterns.
    """
    from onnxruntime.transformers import optimizer
    from onnxruntime.transformers.fusion_options import FusionOptions

    options = FusionOptions("bert")
    # Fused, the embeddings' layer norm is quantised with the position and token-type
    # tables, which moves the student's vectors for no speed (docs/distill.md).
    options.enable_embed_layer_norm = False
    quiet = logging.getLogger("onnxruntime.transformers")
    level = quiet.level
    quiet.setLevel(logging.ERROR)  # it logs every fusion it tries
    try:
        model = optimizer.optimize_model(
            str(source),
            model_type="bert",
            num_heads=num_heads,
            hidden_size=hidden_size,
            opt_level=1,
            optimization_options=options,
        )
        if not model.get_fused_operator_statistics().get("Attention"):
            return False
        model.save_model_to_file(str(target))
        if not same_function(source, target, vocab_size):
            target.unlink(missing_ok=True)
            return False
        return True
    except Exception:  # noqa: BLE001 - an unfused graph is still a correct graph
        target.unlink(missing_ok=True)
        return False
    finally:
        quiet.setLevel(level)


def same_function(a: Path, b: Path, vocab_size: int, probes: int = 4) -> bool:
    """Both graphs give the same embeddings (cosine > 0.9999) for random token sequences."""
    import onnxruntime as ort

    sessions = [ort.InferenceSession(str(p), providers=["CPUExecutionProvider"]) for p in (a, b)]
    rng = np.random.default_rng(0)
    for length in range(3, 3 + 5 * probes, 5):
        ids = rng.integers(0, vocab_size, size=(1, length), dtype=np.int64)
        feed = {"input_ids": ids, "attention_mask": np.ones_like(ids)}
        out = []
        for session in sessions:
            names = {i.name for i in session.get_inputs()}
            extra = {"token_type_ids": np.zeros_like(ids)} if "token_type_ids" in names else {}
            out.append(np.asarray(session.run(None, {**feed, **extra})[0], np.float64)[0])
        x, y = out
        cosine = float(x @ y) / max(float(np.linalg.norm(x) * np.linalg.norm(y)), 1e-12)
        if cosine < 0.9999:
            return False
    return True
