"""The shipped student's build pieces (fused int8 export, LoRA merge, build recipes) and the
int8-teacher fallback of queryEncoder auto.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from helpers import DISTILL_WORDS

pytest.importorskip("peft")
pytest.importorskip("torch")


def test_fused_int8_export_computes_what_the_plain_export_computes(
    tmp_path: Path, tiny_teacher: Path, monkeypatch: Any
) -> None:
    """Attention fusion changes the graph, not the function: the fused int8 student agrees
    with the plain fp32 export, and a graph whose attention does not fuse (torch's
    scaled-dot-product export) is quantised unfused instead of failing."""
    import onnx
    import torch
    from transformers import AutoTokenizer

    from codequest.encoders import student_graph
    from codequest.encoders.onnx_query import OnnxQueryEncoder, write_card
    from codequest.encoders.student_graph import CutStudent, Map, cut_teacher
    from codequest.encoders.student_graph import export_student as export_onnx

    teacher_path = str(tiny_teacher)  # what build_artifact gets: the sentence-transformers folder

    vectors: dict[str, np.ndarray] = {}
    for name, attention, int8 in (
        ("fp32", "eager", False),
        ("fused", "eager", True),
        ("sdpa", "sdpa", True),
    ):
        folder = tmp_path / name
        folder.mkdir()
        transformer = cut_teacher(teacher_path, 2, (0, 2), attention=attention)
        torch.manual_seed(0)  # the same map for all three
        mapping = Map(32, 32, "linear")
        export_onnx(CutStudent(transformer, mapping), folder / "model.onnx", int8=int8)
        AutoTokenizer.from_pretrained(teacher_path).backend_tokenizer.save(
            str(folder / "tokenizer.json")
        )
        write_card(folder, {"teacher": "tiny", "name": name, "dim": 32})
        ops = {n.op_type for n in onnx.load(str(folder / "model.onnx")).graph.node}
        if name == "fused":
            assert "QAttention" in ops
        else:
            assert "QAttention" not in ops and "Attention" not in ops
        encoder = OnnxQueryEncoder(folder)
        texts = [" ".join(DISTILL_WORDS[i : i + 1 + i % 5]) for i in range(0, 24, 3)]
        vectors[name] = np.stack([encoder.encode_query(t) for t in texts])
    assert float(np.ptp(vectors["fp32"], axis=0).max()) > 0.05  # the inputs differ
    for name in ("fused", "sdpa"):
        agreement = (vectors[name] * vectors["fp32"]).sum(axis=1)
        assert agreement.min() > 0.98, (name, agreement)
    # A fusion that changed what the graph computes is thrown away, not shipped.
    monkeypatch.setattr(student_graph, "same_function", lambda *args: False)
    transformer = cut_teacher(teacher_path, 2, (0, 2), attention="eager")
    export_onnx(CutStudent(transformer, Map(32, 32)), tmp_path / "checked.onnx", int8=True)
    ops = {n.op_type for n in onnx.load(str(tmp_path / "checked.onnx")).graph.node}
    assert "QAttention" not in ops and "MatMulInteger" in ops
    assert not list(tmp_path.glob("checked.*.onnx"))  # no intermediate files left behind


def test_a_new_build_recipe_names_a_new_built_folder(tmp_path: Path, monkeypatch: Any) -> None:
    """Students built by an older recipe are not served: the recipe is in the folder name."""
    from codequest.encoders import build

    (tmp_path / "card.json").write_text(json.dumps({"name": "s"}))
    (tmp_path / build.DELTA_FILE).write_bytes(b"weights")
    now = build.delta_digest(tmp_path)
    assert build.delta_digest(tmp_path) == now  # stable
    monkeypatch.setattr(build, "BUILD_RECIPE", build.BUILD_RECIPE + 1)
    assert build.delta_digest(tmp_path) != now


def test_the_lora_merge_computes_what_peft_computes(tiny_teacher: Path) -> None:
    """Serving merges a shipped delta with ``W += B @ A`` and no peft: the merged cut gives
    the hidden states that the peft model it was taken from gives."""
    import torch
    from peft import LoraConfig, get_peft_model

    from codequest.distill.modules import ALL_LINEAR, lora_delta
    from codequest.encoders.student_graph import apply_lora_delta, cut_teacher

    torch.manual_seed(0)
    config = LoraConfig(
        r=4, lora_alpha=8, target_modules=ALL_LINEAR, bias="none", init_lora_weights=False
    )
    peft_model = get_peft_model(cut_teacher(str(tiny_teacher), 2, (0, 2)), config).eval()
    merged = cut_teacher(str(tiny_teacher), 2, (0, 2))
    delta = lora_delta(peft_model)
    assert len(delta) == 2 * 2 * 6  # A and B for six linear layers in each kept block
    apply_lora_delta(merged, delta)
    ids = torch.randint(0, merged.config.vocab_size, (3, 11))
    feed = {"input_ids": ids, "attention_mask": torch.ones_like(ids)}
    feed["token_type_ids"] = torch.zeros_like(ids)  # as the exported student is fed
    with torch.no_grad():
        expected = peft_model(**feed).last_hidden_state
        got = merged(**feed).last_hidden_state
        plain = cut_teacher(str(tiny_teacher), 2, (0, 2))(**feed).last_hidden_state
    assert not torch.allclose(plain, expected, atol=1e-3)  # the LoRA factors change it
    assert torch.allclose(got, expected, atol=1e-5)


def test_auto_falls_back_to_the_int8_teacher_with_one_line_saying_why(
    tmp_path: Path, tiny_teacher: Path, monkeypatch: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """A shipped default that cannot be built: ``auto`` serves the int8 teacher, never
    fp32, and says so once, naming the encoder in use and the default it replaces."""
    import logging

    from codequest.config import Config
    from codequest.distill.artifact import write_delta
    from codequest.encoders import load_query_encoder, students
    from codequest.encoders.models import resolve_model
    from codequest.errors import EncoderError

    monkeypatch.setenv("CODEQUEST_HOME", str(tmp_path / "home"))
    resolved = resolve_model(str(tiny_teacher))
    card = {
        "name": "broken",
        "default": True,
        "teacher": resolved.identity,
        "teacher_name": str(tiny_teacher),
        "dim": 32,
        "map": "linear",
        "base": {"kind": "cut", "dim": 32, "layers": 2, "keep": [0, 2], "precision": "int8"},
    }
    rng = np.random.default_rng(0)
    arrays = {
        "map.W": rng.normal(size=(32, 32)),
        "map.b": np.zeros(32),
        "lora.no.such.module.A": rng.normal(size=(2, 32)),
        "lora.no.such.module.B": rng.normal(size=(32, 2)),
    }
    write_delta(tmp_path / "shipped" / "broken", card, arrays)
    monkeypatch.setattr(students, "SHIPPED", tmp_path / "shipped")

    config = Config(model=str(tiny_teacher))
    with caplog.at_level(logging.WARNING, logger="codequest"):
        encoder = load_query_encoder(config, resolved.identity)
    assert encoder.name == "teacher-int8"
    assert json.loads((encoder.folder / "card.json").read_text())["precision"] == "int8"
    (record,) = [r for r in caplog.records if r.levelno >= logging.WARNING]
    line = record.getMessage()
    assert "\n" not in line and line == encoder.note
    assert line.startswith("query encoder teacher-int8 answers queries, not the default broken")
    assert "no.such.module" in line and "--debug" in line
    # Asked for by name, the same student is an error, not a silent substitute.
    with pytest.raises(EncoderError, match="broken cannot be built"):
        by_name = Config(model=str(tiny_teacher), query_encoder="broken")
        load_query_encoder(by_name, resolved.identity)
