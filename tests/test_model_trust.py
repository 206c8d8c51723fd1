"""Loading a model folder never runs code from it.

A model folder can come with the repository being indexed (the ``model`` and
``queryEncoder`` settings take paths), so each folder below carries Python that would
write a marker file if it ran: a custom sentence-transformers module, a transformers
``auto_map``, a pickled ``pytorch_model.bin``. Loading through CodeQuest may fail, with a
message that names the folder, but the marker must never appear. A static check keeps
every loader in ``server/`` and ``benchmarks/`` explicit about it.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("torch")
pytest.importorskip("sentence_transformers")

from codequest.encoders.models import load_sentence_transformer, resolve_model  # noqa: E402
from codequest.encoders.teacher import SentenceTransformerEncoder  # noqa: E402
from codequest.errors import EncoderError, UnsafeModelError  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SOURCES = [ROOT / "server" / "codequest", ROOT / "benchmarks"]


def _marker_code(marker: Path) -> str:
    """Python that leaves ``marker`` behind when it is imported."""
    return f"from pathlib import Path\nPath({str(marker)!r}).write_text('ran')\n"


class _WritesMarker:
    """Unpickling this writes the marker: what a malicious ``pytorch_model.bin`` does."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (exec, (_marker_code(self.marker),))


@pytest.fixture(scope="module")
def tiny_bert(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A transformers folder: a 1-layer random BERT (dim 16) in safetensors, and its tokenizer."""
    import torch
    from transformers import BertConfig, BertModel, BertTokenizerFast

    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("tiny-bert")
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "read", "json", "file", "sort"]
    (folder / "vocab.txt").write_text("\n".join(vocab) + "\n")
    BertTokenizerFast(vocab_file=str(folder / "vocab.txt")).save_pretrained(folder)
    config = BertConfig(
        vocab_size=len(vocab),
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=64,
    )
    BertModel(config).save_pretrained(folder)
    assert (folder / "model.safetensors").is_file()
    return folder


def _copy(src: Path, dst: Path) -> Path:
    import shutil

    shutil.copytree(src, dst)
    return dst


def test_a_safe_folder_loads(tiny_bert: Path) -> None:
    encoder = SentenceTransformerEncoder(str(tiny_bert), device="cpu")
    assert encoder.encode_query("read json file").shape == (16,)


def test_a_custom_sentence_transformers_module_is_refused(tiny_bert: Path, tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    folder = _copy(tiny_bert, tmp_path / "model")
    (folder / "evil_module.py").write_text(_marker_code(marker))
    modules = [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Evil", "type": "evil_module.Evil"},
    ]
    (folder / "modules.json").write_text(json.dumps(modules))

    with pytest.raises(UnsafeModelError, match=r"modules\.json: evil_module\.Evil") as err:
        load_sentence_transformer(resolve_model(str(folder)), device="cpu")
    assert str(folder) in str(err.value)
    with pytest.raises(EncoderError, match="asks to run its own code"):
        SentenceTransformerEncoder(str(folder), device="cpu")
    assert not marker.exists()


def test_a_config_that_needs_remote_code_is_refused(tiny_bert: Path, tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    folder = _copy(tiny_bert, tmp_path / "model")
    (folder / "modeling_evil.py").write_text(_marker_code(marker))
    config = json.loads((folder / "config.json").read_text())
    config["model_type"] = "codequest-evil"  # no architecture in transformers by that name
    config["auto_map"] = {
        "AutoConfig": "modeling_evil.EvilConfig",
        "AutoModel": "modeling_evil.EvilModel",
    }
    (folder / "config.json").write_text(json.dumps(config))

    with pytest.raises(EncoderError, match=str(folder)):
        SentenceTransformerEncoder(str(folder), device="cpu")
    assert not marker.exists()


def test_remote_code_beside_a_known_architecture_is_not_run(
    tiny_bert: Path, tmp_path: Path
) -> None:
    """transformers has BERT itself: it loads that and ignores the folder's modeling file."""
    marker = tmp_path / "ran"
    folder = _copy(tiny_bert, tmp_path / "model")
    (folder / "modeling_evil.py").write_text(_marker_code(marker))
    config = json.loads((folder / "config.json").read_text())
    config["auto_map"] = {"AutoModel": "modeling_evil.EvilModel"}
    (folder / "config.json").write_text(json.dumps(config))

    encoder = SentenceTransformerEncoder(str(folder), device="cpu")
    assert encoder.encode_query("sort").shape == (16,)
    assert not marker.exists()


def test_pickled_weights_are_never_unpickled(tiny_bert: Path, tmp_path: Path) -> None:
    import torch

    marker = tmp_path / "ran"
    folder = _copy(tiny_bert, tmp_path / "model")
    (folder / "model.safetensors").unlink()
    torch.save({"weights": _WritesMarker(marker)}, folder / "pytorch_model.bin")

    with pytest.raises(EncoderError, match=str(folder)):
        SentenceTransformerEncoder(str(folder), device="cpu")
    assert not marker.exists()


def test_the_onnx_export_loads_the_same_way(tiny_bert: Path, tmp_path: Path) -> None:
    from codequest.encoders.export import export_teacher

    marker = tmp_path / "ran"
    folder = _copy(tiny_bert, tmp_path / "model")
    (folder / "evil_module.py").write_text(_marker_code(marker))
    (folder / "modules.json").write_text(
        json.dumps([{"idx": 0, "name": "0", "path": "", "type": "evil_module.Evil"}])
    )
    with pytest.raises(UnsafeModelError):
        export_teacher(resolve_model(str(folder)), out_dir=tmp_path / "onnx")
    assert not marker.exists()
    assert not (tmp_path / "onnx").exists()


# -- distillation checkpoints ---------------------------------------------------------------


@pytest.fixture
def train() -> Any:
    """codequest.distill.train, which needs the train extra."""
    pytest.importorskip("peft")
    pytest.importorskip("model2vec")
    from codequest.distill import checkpoint as train

    return train


def test_a_training_checkpoint_round_trips_weights_only(train: Any, tmp_path: Path) -> None:
    import numpy as np
    import torch

    state = {
        "epoch": 2,
        "best": np.float64(0.5),
        "best_epoch": 1,
        "history": [{"epoch": 1, "loss": 0.25, "dev_ndcg@10": np.float32(0.5)}],
        "best_map": {"W": np.eye(3, dtype=np.float32), "b": np.zeros(3, np.float32)},
        "best_lora": {},
    }
    rng = torch.get_rng_state()
    path = tmp_path / "checkpoint.pt"
    train.save_checkpoint({"key": "k", "state": state, "rng": rng}, path)
    torch.load(path, weights_only=True)  # loads with no allow-listed globals

    saved = train.load_checkpoint(path)
    assert saved["key"] == "k" and torch.equal(saved["rng"], rng)
    back = saved["state"]
    assert isinstance(back["best_map"]["W"], np.ndarray)
    assert np.array_equal(back["best_map"]["W"], state["best_map"]["W"])
    assert back["best"] == 0.5 and type(back["best"]) is float
    assert back["history"] == [{"epoch": 1, "loss": 0.25, "dev_ndcg@10": 0.5}]


def test_a_pickled_checkpoint_is_ignored_not_run(train: Any, tmp_path: Path) -> None:
    import torch

    marker = tmp_path / "ran"
    path = tmp_path / "checkpoint.pt"
    torch.save({"key": "k", "state": {"history": _WritesMarker(marker)}}, path)
    assert train.load_checkpoint(path) is None
    assert not marker.exists()


# -- every loader in the code says so ---------------------------------------------------------


def _calls(path: Path) -> list[tuple[str, ast.Call]]:
    """Every call in a file, by what it calls (``torch.load``, ``AutoModel.from_pretrained``)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [(ast.unparse(n.func), n) for n in ast.walk(tree) if isinstance(n, ast.Call)]


def _keyword(call: ast.Call, name: str) -> object:
    for kw in call.keywords:
        if kw.arg == name:
            return kw.value.value if isinstance(kw.value, ast.Constant) else kw.value
    return None


def test_every_model_loader_is_explicitly_safe() -> None:
    problems = []
    loaders = 0
    for path in sorted(p for root in SOURCES for p in root.rglob("*.py")):
        where = path.relative_to(ROOT)
        for name, call in _calls(path):
            line = f"{where}:{call.lineno} {name}(...)"
            remote = _keyword(call, "trust_remote_code")
            if any(kw.arg == "trust_remote_code" for kw in call.keywords) and remote is not False:
                problems.append(f"{line} passes trust_remote_code other than False")
            loads_a_model = name.endswith("from_pretrained") or name == "SentenceTransformer"
            loads_a_model |= name == "distill" and _keyword(call, "model_name") is not None
            if loads_a_model:
                loaders += 1
                if remote is not False:
                    problems.append(f"{line} does not pass trust_remote_code=False")
            if name == "torch.load" and _keyword(call, "weights_only") is not True:
                problems.append(f"{line} does not pass weights_only=True")
            if name.endswith(".load") and _keyword(call, "allow_pickle") not in (None, False):
                problems.append(f"{line} allows pickles")
    assert loaders >= 4, "the scan found too few model loaders; has the code moved?"
    assert not problems, "\n".join(problems)
