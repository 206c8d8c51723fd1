"""Distillation end to end on a tiny, randomly initialised BERT teacher (no downloads).

Mines pairs from a tmp project, embeds them with the tiny teacher, trains an external
(frozen cut + map) and an internal (LoRA) student for one epoch, writes the artifacts and
loads them through the query-encoder interface, as the server would.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from helpers import write_beir, write_tree

pytest.importorskip("peft")
pytest.importorskip("torch")

from codequest.distill.evalsets import evaluate_dense, load_beir  # noqa: E402
from codequest.distill.mine import first_sentence, mine_pairs  # noqa: E402
from codequest.encoders.export import INT8_FOLDER  # noqa: E402

WORDS = [
    "read",
    "write",
    "json",
    "file",
    "path",
    "open",
    "parse",
    "http",
    "header",
    "retry",
    "backoff",
    "delay",
    "sort",
    "list",
    "numbers",
    "merge",
    "dict",
    "keys",
    "values",
    "compute",
    "max",
    "min",
    "average",
    "string",
    "split",
    "join",
    "lines",
    "return",
    "the",
    "a",
    "of",
    "to",
    "from",
    "with",
    "for",
    "in",
    "is",
    "and",
    "load",
    "save",
    "config",
    "value",
]  # noqa: SIM905

PROJECT = {
    f"pkg/mod{i}.py": textwrap.dedent(
        f'''\
        def {a}_{b}_{i}(path, value):
            """{a.capitalize()} the {b} of a {c}. More text here."""
            # compute the {b} from the {c} value first
            data = open(path).read()
            return data, value


        class {a.capitalize()}{c.capitalize()}{i}:
            """Keeps the {c} and {a}s it."""

            def {b}_{c}(self):
                """Return the {b} {c} value."""
                x = 1
                return x
        '''
    )
    for i, (a, b, c) in enumerate(zip(WORDS[::3], WORDS[1::3], WORDS[2::3], strict=False))
}


def test_first_sentence() -> None:
    assert first_sentence("Read a file.  Then more.") == "Read a file."
    assert first_sentence("Summary line\n\nDetails.") == "Summary line"


@pytest.fixture(scope="module")
def tiny_teacher(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A sentence-transformers folder: tiny random BERT (3 layers, dim 32), WordPiece vocab."""
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer import modules as models
    from transformers import BertConfig, BertModel, BertTokenizerFast

    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("tiny-bert")
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *sorted(set(WORDS))]
    vocab += [c for c in "abcdefghijklmnopqrstuvwxyz0123456789_.,():=\"'#"]
    vocab += ["##" + c for c in "abcdefghijklmnopqrstuvwxyz0123456789_"]
    (folder / "vocab.txt").write_text("\n".join(dict.fromkeys(vocab)) + "\n")
    tokenizer = BertTokenizerFast(vocab_file=str(folder / "vocab.txt"), do_lower_case=True)
    config = BertConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=32,
        num_hidden_layers=3,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=256,
    )
    BertModel(config).save_pretrained(folder / "hf")
    tokenizer.save_pretrained(folder / "hf")
    word = models.Transformer(str(folder / "hf"), max_seq_length=64)
    pooling = models.Pooling(32, pooling_mode="mean")
    st_folder = folder / "st"
    SentenceTransformer(modules=[word, pooling], device="cpu").save(str(st_folder))
    return st_folder


def _eval_set(root: Path) -> Path:
    """A two-query BEIR set with a dev split (what model selection reads)."""
    docs = {
        "d1": "def read_json(path): return json.load(open(path))",
        "d2": "def sort_numbers(xs): return sorted(xs)",
        "d3": "def merge_dict(a, b): return {**a, **b}",
    }
    queries = {"q1": "read json file", "q2": "sort a list of numbers"}
    relevant = [("q1", "d1"), ("q2", "d2")]
    write_beir(root / "cosqa", docs, queries, {"dev": relevant, "test": relevant})
    return root


def _project(root: Path) -> Path:
    return write_tree(root, PROJECT, dedent=False)


def test_distill_end_to_end(tmp_path: Path, tiny_teacher: Path, monkeypatch: Any) -> None:
    monkeypatch.setenv("CODEQUEST_HOME", str(tmp_path / "home"))
    project = _project(tmp_path / "project")
    eval_dir = _eval_set(tmp_path / "eval")

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
    project = _project(tmp_path / "project")
    eval_dir = _eval_set(tmp_path / "eval")

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
        texts = [" ".join(WORDS[i : i + 1 + i % 5]) for i in range(0, 24, 3)]
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
