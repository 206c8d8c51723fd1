"""``codequest distill``: mine data, train students, evaluate them, write artifacts.

Example (the shipped default)::

    codequest distill --student teacher-int8 --ship

Progress goes to stderr. Ctrl-C stops after saving what finished; running the same
command again resumes from the last finished epoch (teacher embeddings are cached too).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

COMPACT = "teacher-int8"  # the compact adaptation: nothing to train, only to measure
RECIPE_MAX_CODES = 1_000_000  # a student with its own recipe draws from every mined pair
DEFAULT_STUDENTS = (
    "teacher-int8,cut2-linear,cut2-mlp,static-linear,static-mlp,lora-cut2,lora32-keep025,"
    "lora32-keep025-cos"
)


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", default="all-MiniLM-L6-v2", help="the teacher")
    parser.add_argument(
        "--student",
        default=DEFAULT_STUDENTS,
        help=f"comma-separated student names (default: {DEFAULT_STUDENTS}); see --list",
    )
    parser.add_argument("--list", action="store_true", help="list the known students and exit")
    parser.add_argument(
        "--source",
        action="append",
        default=None,
        metavar="DIR",
        help="folder to mine (repeatable; default: the Python stdlib and site-packages)",
    )
    parser.add_argument("--max-codes", type=int, default=5000, help="distinct code texts")
    parser.add_argument("--max-files", type=int, default=40_000)
    parser.add_argument(
        "--code-limit",
        type=int,
        default=1500,
        help="distinct code texts the teacher embeds for the contrastive loss (slow on CPU)",
    )
    parser.add_argument(
        "--epochs", type=int, default=None, help="default: 5, or the student's own recipe"
    )
    parser.add_argument(
        "--max-pairs", type=int, default=0, help="train on the first N mined pairs (0: all)"
    )
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--eval-dir", default=None, help="BEIR sets; needs cosqa/ (dev split)")
    parser.add_argument("--out", default=None, help="artifact folder (default: CODEQUEST_HOME)")
    parser.add_argument(
        "--ship",
        action="store_true",
        help="also write the first student's delta into the package as the shipped default",
    )
    parser.add_argument(
        "--not-default",
        action="store_true",
        help="with --ship: add the delta to the package but keep the current default",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from codequest.distill import TRAIN_HINT

    try:
        from codequest.distill.specs import SPECS
    except ImportError as err:
        print(f"codequest distill: {err}", file=sys.stderr)
        return 2
    if args.list:
        for spec in SPECS.values():
            print(f"{spec.name:16} {spec.adaptation:9} base={spec.base} map={spec.map}")
        return 0
    names = [n.strip() for n in args.student.split(",") if n.strip()]
    unknown = [n for n in names if n not in SPECS and n != COMPACT]
    if unknown:
        print(
            f"codequest distill: unknown student(s) {unknown}; known: {sorted(SPECS)}",
            file=sys.stderr,
        )
        return 2
    try:
        return _run(args, names)
    except ImportError as err:
        print(f"codequest distill: {err}. {TRAIN_HINT}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("codequest distill: interrupted; run the same command to resume", file=sys.stderr)
        return 130


def _eval_dir(args: argparse.Namespace) -> Path:
    from codequest.distill.mine import default_excluded

    if args.eval_dir:
        return Path(args.eval_dir)
    found = default_excluded()
    if not found:
        raise FileNotFoundError("no evaluation sets found; pass --eval-dir with cosqa/ in it")
    return found[0]


def _run(args: argparse.Namespace, names: list[str]) -> int:
    from codequest.distill import say
    from codequest.distill.specs import SPECS, TrainOptions
    from codequest.distill.train import train_student
    from codequest.errors import TrainingInterrupted

    started = time.monotonic()
    teacher, resolved, tokenizer = load_teacher(args.model, args.threads)
    from codequest.distill.data import TrainingData, compare_with_shipped, prepare

    prepared: dict[Any, TrainingData] = {}

    def data_for(recipe: Any) -> TrainingData:
        """The shared data (CLI flags), or a student's own recipe: mined pairs drawn per kind."""
        if recipe not in prepared:
            roots = [Path(s) for s in args.source] if args.source else None
            if recipe is None:
                data = prepare(
                    teacher,
                    resolved.identity,
                    roots=roots,
                    max_codes=args.max_codes,
                    max_files=args.max_files,
                    seed=args.seed,
                    code_limit=args.code_limit,
                )
            else:
                data = prepare(
                    teacher,
                    resolved.identity,
                    roots=roots,
                    max_codes=RECIPE_MAX_CODES,
                    max_files=args.max_files,
                    seed=args.seed,
                    code_limit=recipe.code_limit,
                    pairs_limit=recipe.pairs,
                    kind_shares=dict(recipe.kind_shares),
                )
            prepared[recipe] = data.head(args.max_pairs) if args.max_pairs else data
        return prepared[recipe]

    if any(n == COMPACT or SPECS[n].recipe is None for n in names):
        data_for(None)
    eval_dir = _eval_dir(args)
    dev = load_dev(teacher, resolved.identity, eval_dir)
    options = TrainOptions(
        epochs=args.epochs or 5, batch_size=args.batch_size, seed=args.seed, threads=args.threads
    )
    from codequest.encoders.models import codequest_home, slug

    out_root = Path(args.out) if args.out else codequest_home() / "distill" / "students"
    for name in names:
        if name == COMPACT:
            folder = write_compact(resolved, dev, out_root / name)
            if args.ship and name == names[0]:
                say(f"[distill] shipped {name}: {ship(folder, default=not args.not_default)}")
            continue
        spec = SPECS[name]
        data = data_for(spec.recipe)
        differs = compare_with_shipped(name, data.summary)
        if differs:
            say(f"[distill] note: {differs}")
        work = codequest_home() / "distill" / "work" / slug(resolved.identity) / name
        try:
            result = train_student(
                spec,
                data,
                dev,
                teacher_path=resolved.path,
                options=options.for_spec(spec, epochs_given=args.epochs is not None),
                work_dir=work,
                tokenizer=tokenizer,
            )
        except TrainingInterrupted as err:
            say(f"[distill] {err}")
            return 130
        folder = write_result(result, resolved, data.summary, out_root / name)
        say(
            f"[distill] {name}: best epoch {result.best_epoch}, dev NDCG@10 "
            f"{result.dev_ndcg:.4f}, trained in {result.seconds:.0f}s -> {folder}"
        )
        if args.ship and name == names[0]:
            shipped = ship(folder, default=not args.not_default)
            say(f"[distill] shipped {name} (default: {not args.not_default}): {shipped}")
    say(f"[distill] done in {time.monotonic() - started:.0f}s")
    return 0


def load_teacher(model: str, threads: int) -> tuple[Any, Any, Any]:
    from codequest.distill import require_training_deps

    require_training_deps()
    import torch

    from codequest.encoders.models import load_sentence_transformer, resolve_model
    from codequest.encoders.teacher import quiet_model_loading

    torch.set_num_threads(threads)
    quiet_model_loading()
    resolved = resolve_model(model)
    teacher = load_sentence_transformer(resolved, device="cpu")
    return teacher, resolved, teacher.tokenizer


def load_dev(teacher: Any, identity: str, eval_dir: Path) -> Any:
    from codequest.distill import say
    from codequest.distill.cache import cached_embeddings
    from codequest.distill.evalsets import load_beir
    from codequest.distill.specs import DevSet

    cosqa = load_beir(eval_dir / "cosqa", "dev")
    say(f"[distill] teacher embeds the CoSQA corpus ({len(cosqa.doc_texts)} docs, cached) ...")
    docs = cached_embeddings(
        teacher,
        identity,
        cosqa.doc_texts,
        tag="eval-cosqa",
        progress=lambda d, n: say(f"[distill]   corpus {d}/{n}"),
    )
    return DevSet(cosqa.query_texts, docs, cosqa.query_ids, cosqa.doc_ids, cosqa.qrels)


def write_result(result: Any, resolved: Any, summary: dict[str, Any], folder: Path) -> Path:
    """The servable artifact plus the shippable delta, side by side in one folder."""
    from codequest.distill.artifact import build_artifact, delta_arrays, write_delta

    spec = result.spec
    base = spec.served_base(int(result.map_arrays["W"].shape[0]))
    card: dict[str, Any] = {
        "name": spec.name,
        "adaptation": spec.adaptation,
        "teacher": resolved.identity,
        "teacher_name": resolved.name,
        "dim": int(result.map_arrays["W"].shape[1]),
        "base": base,
        "map": spec.map,
        "lora_rank": spec.lora_rank,
        "lora_targets": list(spec.lora_targets) if spec.lora_rank else [],
        "seed": result.options.seed,
        "training": {
            "data": summary,
            "options": {k: getattr(result.options, k) for k in result.options.__dataclass_fields__},
            "best_epoch": result.best_epoch,
            "history": result.history,
            "seconds": round(result.seconds, 1),
        },
        # Of the served form: the int8 artifact for an int8 student (what selected the epoch).
        "metrics": {"cosqa-dev": {"ndcg@10": result.dev_ndcg}},
    }
    arrays = delta_arrays(result.map_arrays, result.lora)
    write_delta(folder / "delta", card, arrays)
    if spec.base == "l3":
        (folder / "card.json").parent.mkdir(parents=True, exist_ok=True)
        import numpy as np

        np.savez(folder / "map.npz", **result.map_arrays)
        (folder / "card.json").write_text(json.dumps({**card, "encoder": "l3-map"}, indent=2))
        return folder
    build_artifact(
        card,
        arrays,
        resolved.path,
        folder / "artifact",
        static_table=result.base_state.get("table"),
        static_tokenizer=result.base_state.get("tokenizer"),
    )
    return folder


def write_compact(resolved: Any, dev: Any, folder: Path) -> Path:
    """The int8 teacher as a student: export (cached), score on CoSQA dev, write its card."""
    from codequest.distill import say
    from codequest.distill.dev import dev_ndcg
    from codequest.encoders.export import export_teacher
    from codequest.encoders.onnx_query import OnnxQueryEncoder, write_card

    encoder = OnnxQueryEncoder(export_teacher(resolved, int8=True))
    score = dev_ndcg(dev, encoder.encode_queries(dev.queries))
    say(f"[distill] {COMPACT}: dev NDCG@10 {score:.4f}")
    (folder / "delta").mkdir(parents=True, exist_ok=True)
    card = {
        "name": COMPACT,
        "adaptation": "compact",
        "teacher": resolved.identity,
        "teacher_name": resolved.name,
        "dim": encoder.dim,
        "base": {
            "kind": COMPACT,
            "precision": "int8",
            "quantization": "onnxruntime dynamic, per channel",
        },
        "metrics": {"cosqa-dev": {"ndcg@10": score}},
    }
    write_card(folder / "delta", card)
    return folder


def ship(folder: Path, *, default: bool = True) -> Path:
    """Copy a student's delta into the package (``data/students/<name>``), by default as the
    default student; ``default=False`` adds it beside the current default."""
    import shutil

    from codequest.encoders import students

    target = students.SHIPPED / json.loads((folder / "delta" / "card.json").read_text())["name"]
    if default:
        for other in students.SHIPPED.glob("*/card.json") if students.SHIPPED.is_dir() else []:
            card = json.loads(other.read_text())
            if card.pop("default", None):
                other.write_text(json.dumps(card, indent=2, sort_keys=True))
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(folder / "delta", target)
    card = json.loads((target / "card.json").read_text())
    card.pop("default", None)
    if default:
        card["default"] = True
    (target / "card.json").write_text(json.dumps(card, indent=2, sort_keys=True))
    return target
