"""Export a sentence-transformers teacher to ONNX (the "compact" adaptation).

Needs torch (it runs at indexing time, when the teacher is loaded anyway). The result is a
query-encoder artifact folder cached under ``$CODEQUEST_HOME/models``; later processes load
it with :class:`~codequest.encoders.onnx_query.OnnxQueryEncoder` and never touch torch.
"""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
from pathlib import Path
from typing import Any

from codequest.encoders.models import ResolvedModel, codequest_home, load_sentence_transformer, slug
from codequest.encoders.onnx_query import write_card

# The int8 export quantises each output channel of a weight on its own scale: query vectors
# closer to the fp32 teacher's than with one scale per tensor, at the same speed
# (docs/measurements.md). Its own folder name, so per-tensor exports are not reused.
INT8_FOLDER = "teacher-int8-pc"


class _QuantizerAdvice(logging.Filter):
    """Drops onnxruntime.quantization's "consider pre-processing" advice, which it logs on
    the root logger at every dynamic quantisation (a shipped student's first use included),
    where a user would read it as a problem. The graphs are quantised as measured without
    that pre-processing."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("Please consider to run pre-processing")


def quiet_quantizer() -> None:
    root = logging.getLogger()
    if not any(isinstance(f, _QuantizerAdvice) for f in root.filters):
        root.addFilter(_QuantizerAdvice())


def teacher_onnx_dir(identity: str, *, int8: bool = False) -> Path:
    return codequest_home() / "models" / slug(identity) / (INT8_FOLDER if int8 else "teacher-fp32")


def _pooling_mode(model_folder: Path) -> str:
    config = model_folder / "1_Pooling" / "config.json"
    try:
        data = json.loads(config.read_text())
    except (OSError, ValueError):
        return "mean"
    if data.get("pooling_mode_cls_token"):
        return "cls"
    return "mean"


class _Pooled:
    """Builds the torch module lazily so importing this file does not import torch."""

    @staticmethod
    def build(transformer: Any, mode: str) -> Any:
        import torch

        class PooledEncoder(torch.nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.transformer = transformer

            def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
                hidden = self.transformer(
                    input_ids=input_ids,
                    attention_mask=attention_mask,
                    token_type_ids=token_type_ids,
                ).last_hidden_state
                if mode == "cls":
                    pooled = hidden[:, 0]
                else:
                    mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
                    pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
                return torch.nn.functional.normalize(pooled, p=2, dim=1)

        return PooledEncoder().eval()


def export_onnx(module: Any, path: Path) -> None:
    """Export a pooled encoder (ids, mask, token types -> embedding) with dynamic shapes."""
    import warnings

    import torch

    dummy = torch.ones((1, 8), dtype=torch.long)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer warnings about shapes we mark dynamic
        torch.onnx.export(
            module.eval(),
            (dummy, dummy, torch.zeros_like(dummy)),
            str(path),
            input_names=["input_ids", "attention_mask", "token_type_ids"],
            output_names=["embedding"],
            dynamic_axes={
                "input_ids": {0: "batch", 1: "seq"},
                "attention_mask": {0: "batch", 1: "seq"},
                "token_type_ids": {0: "batch", 1: "seq"},
                "embedding": {0: "batch"},
            },
            opset_version=17,
            dynamo=False,
        )


def export_teacher(
    resolved: ResolvedModel, *, int8: bool = False, out_dir: Path | None = None
) -> Path:
    """Export (once) and return the artifact folder; safe against concurrent exporters."""
    target = out_dir or teacher_onnx_dir(resolved.identity, int8=int8)
    if (target / "card.json").is_file():
        return target

    from codequest.encoders.teacher import quiet_model_loading

    quiet_model_loading()
    model_folder = Path(resolved.path)
    st_model = load_sentence_transformer(resolved, device="cpu")
    transformer: Any = st_model[0].auto_model
    transformer = transformer.float().eval()
    max_len = int(st_model.max_seq_length or 256)
    # The tokenizer.json shipped with some folders pads/truncates at a fixed length; the
    # encoder disables padding and sets truncation itself, so copying it is enough.
    module = _Pooled.build(
        transformer, _pooling_mode(model_folder) if model_folder.is_dir() else "mean"
    )

    target.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".export-", dir=target.parent))
    try:
        fp32_path = work / "model.onnx"
        export_onnx(module, fp32_path)
        if int8:
            from onnxruntime.quantization import QuantType, quantize_dynamic

            quiet_quantizer()
            quantize_dynamic(
                str(fp32_path),
                str(work / "model.int8.onnx"),
                weight_type=QuantType.QInt8,
                per_channel=True,
            )
            (work / "model.int8.onnx").replace(fp32_path)
        st_model.tokenizer.backend_tokenizer.save(str(work / "tokenizer.json"))
        write_card(
            work,
            {
                "name": f"teacher-onnx-{'int8' if int8 else 'fp32'}",
                "adaptation": "compact",
                "teacher": resolved.identity,
                "dim": int(module.transformer.config.hidden_size),
                "max_seq_length": max_len,
                "onnx_file": "model.onnx",
                "precision": "int8" if int8 else "fp32",
                **({"quantization": "dynamic, per channel"} if int8 else {}),
            },
        )
        try:
            work.rename(target)
        except OSError:
            # Another process finished the same export first; theirs is as good as ours.
            if not (target / "card.json").is_file():
                raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return target
