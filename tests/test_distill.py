"""Distillation end to end on a tiny, randomly initialised BERT teacher (no downloads).

Mines pairs from a tmp project, embeds them with the tiny teacher, trains an external
(frozen cut + map) and an internal (LoRA) student for one epoch, writes the artifacts and
loads them through the query-encoder interface, as the server would.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from helpers import (
    write_distill_eval_set,
    write_distill_project,
)

pytest.importorskip("peft")
pytest.importorskip("torch")

from codequest.distill.evalsets import evaluate_dense, load_beir  # noqa: E402
from codequest.distill.mine import first_sentence, mine_pairs  # noqa: E402
from codequest.encoders.export import INT8_FOLDER  # noqa: E402


def test_first_sentence() -> None:
    assert first_sentence("Read a file.  Then more.") == "Read a file."
    assert first_sentence("Summary line\n\nDetails.") == "Summary line"


def test_distill_end_to_end(tmp_path: Path, tiny_teacher: Path, monkeypatch: Any) -> None:
    monkeypatch.setenv("CODEQUEST_HOME", str(tmp_path / "home"))
    project = write_distill_project(tmp_path / "project")
    eval_dir = write_distill_eval_set(tmp_path / "eval")

    # Mining: all three query kinds, and nothing from an excluded root.
    pairs, summary = mine_pairs([project, eval_dir], excluded=[eval_dir], seed=0)
    assert {p.kind for p in pairs} == {"doc", "comment", "name"}
    assert all("eval" not in p.source for p in pairs)
    assert summary["pairs"] == len(pairs)

    from codequest.distill import cli
    from codequest.distill.data import prepare
    from codequest.distill.train import SPECS, TrainOptions, replace, train_student
    from codequest.encoders import open_query_artifact
    from codequest.encoders.onnx_query import OnnxQueryEncoder
    from codequest.errors import EncoderError

    teacher, resolved, tokenizer = cli.load_teacher(str(tiny_teacher), threads=1)
    data = prepare(teacher, resolved.identity, roots=[project], max_codes=50, seed=0)
    assert data.query_vectors.shape == (len(data.pairs), 32)
    dev = cli.load_dev(teacher, resolved.identity, eval_dir)
    options = TrainOptions(epochs=1, batch_size=16, seed=0, threads=1)

    vectors = {}
    for name in ("cut2-linear", "lora-cut2"):
        spec = replace(SPECS[name], lora_rank=2) if SPECS[name].lora_rank else SPECS[name]
        result = train_student(
            spec,
            data,
            dev,
            teacher_path=resolved.path,
            options=options,
            work_dir=tmp_path / "work" / name,
            tokenizer=tokenizer,
        )
        assert len(result.history) == 1
        assert bool(result.lora) == bool(spec.lora_rank)
        if not spec.lora_rank:
            # Same data and options with one more epoch: resumes from the checkpoint.
            more = train_student(
                spec,
                data,
                dev,
                teacher_path=resolved.path,
                options=replace(options, epochs=2),
                work_dir=tmp_path / "work" / name,
                tokenizer=tokenizer,
            )
            assert [h["epoch"] for h in more.history] == [1, 2]
            assert more.history[0] == result.history[0]
        folder = cli.write_result(result, resolved, data.summary, tmp_path / "students" / name)
        encoder = open_query_artifact(folder / "artifact")
        assert isinstance(encoder, OnnxQueryEncoder)
        assert encoder.teacher_identity == resolved.identity
        vec = encoder.encode_query("read json file")
        assert vec.shape == (32,) and abs(float(np.linalg.norm(vec)) - 1.0) < 1e-4
        # The ONNX artifact agrees with the torch student it was exported from.
        vectors[name] = vec
        cosqa = load_beir(eval_dir / "cosqa", "test")
        metrics = evaluate_dense(cosqa, encoder.encode_queries(cosqa.query_texts), dev.doc_vectors)
        assert 0.0 <= metrics["ndcg@10"] <= 1.0

    # Shipping: the delta rebuilds an artifact that answers like the trained one.
    from codequest.encoders import students

    shipped_root = tmp_path / "shipped"
    monkeypatch.setattr(students, "SHIPPED", shipped_root)
    shipped_root.mkdir()
    target = cli.ship(tmp_path / "students" / "lora-cut2")
    assert json.loads((target / "card.json").read_text())["default"] is True
    assert students.shipped_student_dir("some-other-teacher@0") is None
    built = students.shipped_student_dir(resolved.identity)
    assert built is not None
    rebuilt = open_query_artifact(built).encode_query("read json file")
    assert float(rebuilt @ vectors["lora-cut2"]) > 0.99  # float16 delta

    # The compact adaptation ships only a card; the int8 teacher is exported at first use.
    cli.ship(cli.write_compact(resolved, dev, tmp_path / "students" / cli.COMPACT))
    compact = students.shipped_student_dir(resolved.identity)
    assert compact is not None and compact.name == INT8_FOLDER
    assert json.loads((compact / "card.json").read_text())["quantization"] == "dynamic, per channel"
    assert open_query_artifact(compact).encode_query("read json file").shape == (32,)

    # A student for another teacher is refused with a message naming both.
    from codequest.config import Config
    from codequest.encoders import load_query_encoder

    config = Config(model=str(tiny_teacher), query_encoder=str(built))
    with pytest.raises(EncoderError, match="trained for teacher"):
        load_query_encoder(config, "other-teacher@123")


def test_kept_layers_lora_int8_student(
    tmp_path: Path, tiny_teacher: Path, monkeypatch: Any
) -> None:
    """A student with its own recipe: pairs drawn per kind, chosen teacher layers, LoRA on
    every linear layer, served as int8 ONNX, and rebuilt from its shipped delta."""
    monkeypatch.setenv("CODEQUEST_HOME", str(tmp_path / "home"))
    project = write_distill_project(tmp_path / "project")
    eval_dir = write_distill_eval_set(tmp_path / "eval")

    from codequest.distill import cli
    from codequest.distill.data import prepare
    from codequest.distill.train import SPECS, TrainOptions, replace, train_student
    from codequest.encoders import open_query_artifact, students

    teacher, resolved, tokenizer = cli.load_teacher(str(tiny_teacher), threads=1)
    data = prepare(
        teacher,
        resolved.identity,
        roots=[project],
        max_codes=1000,
        seed=0,
        pairs_limit=40,
        kind_shares={"doc": 2, "comment": 1, "name": 1},
        code_limit=10,
    )
    assert len(data.pairs) == 40 and data.summary["kinds"]["doc"] == 20
    assert int((data.code_index >= 0).sum()) >= 10 and data.code_vectors.shape[0] == 10
    dev = cli.load_dev(teacher, resolved.identity, eval_dir)

    shipped = SPECS["lora32-keep025"]
    assert shipped.recipe is not None and shipped.keep == (0, 2, 5)
    # The tiny teacher has 3 layers: keep the first and the last.
    spec = replace(shipped, name="kept", layers=2, keep=(0, 2), lora_rank=2)
    options = TrainOptions(epochs=5, batch_size=8, seed=0, threads=1)
    assert options.for_spec(spec).epochs == shipped.recipe.epochs
    options = options.for_spec(spec, epochs_given=True)
    assert options.epochs == 5 and options.dropout is False
    # The recipe embeds no code (code_limit 0): matching only.
    no_code = replace(
        data, code_vectors=data.code_vectors[:0], code_index=-np.ones_like(data.code_index)
    )
    result = train_student(
        spec,
        no_code,
        dev,
        teacher_path=resolved.path,
        options=replace(options, epochs=1),
        work_dir=tmp_path / "work",
        tokenizer=tokenizer,
    )
    # The epoch is selected on the served int8 artifact's dev score, recorded beside the
    # torch student's.
    (row,) = result.history
    assert set(row) == {"epoch", "loss", "dev_ndcg@10", "dev_ndcg@10_int8"}
    assert result.dev_ndcg >= row["dev_ndcg@10_int8"]
    assert not (tmp_path / "work" / "served").exists()
    # LoRA on all six linear layers of both kept blocks, and none on the pooler.
    modules = {k.rsplit(".", 1)[0] for k in result.lora}
    assert len(modules) == 2 * 6 and not any("pooler" in m for m in modules)
    folder = cli.write_result(result, resolved, data.summary, tmp_path / "students" / "kept")
    card = json.loads((folder / "artifact" / "card.json").read_text())
    assert card["base"] == {
        "kind": "cut",
        "dim": 32,
        "layers": 2,
        "keep": [0, 2],
        "precision": "int8",
    }
    import onnx

    graph = onnx.load(str(folder / "artifact" / "model.onnx")).graph
    assert any(n.op_type in ("MatMulInteger", "DynamicQuantizeLinear") for n in graph.node)
    # Attention was fused before quantising (student_graph.fuse_attention), and the card says
    # which build recipe made the graph.
    assert sum(n.op_type == "QAttention" for n in graph.node) == 2
    assert card["build_recipe"] == 2
    vec = open_query_artifact(folder / "artifact").encode_query("read json file")
    assert vec.shape == (32,) and abs(float(np.linalg.norm(vec)) - 1.0) < 1e-4

    monkeypatch.setattr(students, "SHIPPED", tmp_path / "shipped")
    (tmp_path / "shipped").mkdir()
    cli.ship(folder)
    built = students.shipped_student_dir(resolved.identity)
    assert built is not None
    assert float(open_query_artifact(built).encode_query("read json file") @ vec) > 0.98

    # Shipped beside another default, a student stays out of "auto" but builds by name.
    other = tmp_path / "shipped" / "other"
    other.mkdir()
    (other / "card.json").write_text(json.dumps({"name": "other", "default": True}))
    cli.ship(folder, default=False)
    cards = {c["name"]: c for _, c in students.shipped_cards()}
    assert cards["other"]["default"] is True and "default" not in cards["kept"]
    assert students.shipped_cards()[0][0] == other
    named = students.shipped_student_dir(resolved.identity, name="kept")
    assert named is not None and named.name.startswith("kept-")
    assert students.shipped_student_dir(resolved.identity, name="missing") is None
    # The queryEncoder setting takes a shipped student's name as well as a folder.
    from codequest.config import Config
    from codequest.encoders import load_query_encoder
    from codequest.errors import EncoderError

    config = Config(model=str(tiny_teacher), query_encoder="kept")
    by_name = load_query_encoder(config, resolved.identity)
    assert float(by_name.encode_query("read json file") @ vec) > 0.98
    with pytest.raises(EncoderError, match="missing"):
        missing = Config(model=str(tiny_teacher), query_encoder="missing")
        load_query_encoder(missing, resolved.identity)


def test_static_encoder_matches_numpy_map(tmp_path: Path) -> None:
    """The static encoder: table lookup, mean, residual map, normalise."""
    from tokenizers import Tokenizer, models, pre_tokenizers

    from codequest.encoders.onnx_query import write_card
    from codequest.encoders.static_query import StaticQueryEncoder, apply_map

    vocab = {w: i for i, w in enumerate(["[UNK]", "read", "json", "file"])}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.save(str(tmp_path / "tokenizer.json"))
    rng = np.random.default_rng(0)
    table = rng.normal(size=(4, 6)).astype(np.float32)
    arrays = {
        "W": rng.normal(size=(6, 5)),
        "b": np.zeros(5),
        "W1": rng.normal(size=(6, 8)),
        "b1": np.zeros(8),
        "W2": rng.normal(size=(8, 5)),
        "b2": np.zeros(5),
    }
    np.save(tmp_path / "table.npy", table)
    np.savez(tmp_path / "map.npz", **arrays)
    write_card(tmp_path, {"encoder": "static", "teacher": "t@1", "dim": 5, "name": "s"})
    encoder = StaticQueryEncoder(tmp_path)
    got = encoder.encode_query("read json")
    want = apply_map(
        {k: v.astype(np.float32) for k, v in arrays.items()}, table[[1, 2]].mean(0, keepdims=True)
    )[0]
    np.testing.assert_allclose(got, want / np.linalg.norm(want), rtol=1e-5)
    assert encoder.teacher_identity == "t@1" and encoder.dim == 5


def test_learning_rate_schedules() -> None:
    """Constant is flat; cosine warms up linearly, peaks at 1 and decays to zero."""
    from codequest.distill.specs import SPECS, TrainOptions

    assert TrainOptions().lr_factor(7, 100) == 1.0
    cosine = TrainOptions(schedule="cosine", warmup=0.1)
    factors = [cosine.lr_factor(step, 100) for step in range(100)]
    assert factors[0] == pytest.approx(0.1) and factors[9] == pytest.approx(1.0)
    assert all(a >= b for a, b in zip(factors[9:], factors[10:], strict=False))
    assert factors[-1] < 0.01
    with pytest.raises(ValueError, match="'step'"):
        TrainOptions(schedule="step").lr_factor(0, 10)
    spec = SPECS["lora32-keep025-cos"]
    assert TrainOptions().for_spec(spec).schedule == "cosine"


def test_a_retrain_on_other_packages_says_why_its_weights_differ(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """The default sources include site-packages, so another machine mines other pairs;
    `codequest distill` says so instead of leaving a silent mismatch with the shipped card."""
    from codequest.distill.data import compare_with_shipped, pairs_digest
    from codequest.distill.mine import Pair
    from codequest.encoders import students

    pairs = [Pair("read a json file", "def load(p): ...", "doc", "python", "x.py:1")]
    same = pairs_digest(pairs)
    assert same == pairs_digest(list(pairs)) and len(same) == 16
    assert pairs_digest(pairs + pairs) != same

    monkeypatch.setattr(students, "SHIPPED", tmp_path / "shipped")
    folder = tmp_path / "shipped" / "kept"
    folder.mkdir(parents=True)
    data = {"mined_pairs": 10, "roots": ["/a"], "pairs_digest": same}
    (folder / "card.json").write_text(json.dumps({"name": "kept", "training": {"data": data}}))
    assert compare_with_shipped("kept", {"mined_pairs": 10, "pairs_digest": same}) is None
    note = compare_with_shipped("kept", {"mined_pairs": 12, "roots": ["/b"], "pairs_digest": "x"})
    assert note is not None and "10 pairs" in note and "12" in note and "/b" in note
    assert compare_with_shipped("other-student", {"mined_pairs": 12}) is None
    # A card from before the digest: the mined-pair count is what can be compared.
    old = {"mined_pairs": 10, "roots": ["/a"]}
    (folder / "card.json").write_text(json.dumps({"name": "kept", "training": {"data": old}}))
    assert compare_with_shipped("kept", {"mined_pairs": 10, "pairs_digest": same}) is None
    assert compare_with_shipped("kept", {"mined_pairs": 11, "pairs_digest": same}) is not None


def test_the_quantizer_advice_is_dropped_and_other_root_records_are_kept(
    caplog: pytest.LogCaptureFixture,
):
    import logging

    from codequest.encoders.export import quiet_quantizer

    quiet_quantizer()
    quiet_quantizer()  # idempotent: one filter
    root = logging.getLogger()
    assert sum(type(f).__name__ == "_QuantizerAdvice" for f in root.filters) == 1
    with caplog.at_level(logging.WARNING):
        logging.warning("Please consider to run pre-processing before quantization. ...")
        logging.warning("something else")
    assert [r.getMessage() for r in caplog.records] == ["something else"]
