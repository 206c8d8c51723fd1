"""Encoder factories. Only :func:`load_document_encoder` may import torch."""

from __future__ import annotations

from pathlib import Path

from codequest.config import Config
from codequest.encoders.base import (
    DOCUMENT_RECIPE,
    DocumentEncoder,
    EncoderError,
    QueryEncoder,
    document_text,
    normalize_rows,
)
from codequest.encoders.hashing import HashingEncoder
from codequest.models import ModelNotFoundError, resolve_model

__all__ = [
    "DOCUMENT_RECIPE",
    "DocumentEncoder",
    "EncoderError",
    "HashingEncoder",
    "QueryEncoder",
    "document_encoder_identity",
    "document_text",
    "load_document_encoder",
    "load_query_encoder",
    "normalize_rows",
    "open_query_artifact",
]

HASHING_MODEL = "hashing"


def _is_hashing(model: str) -> bool:
    return model == HASHING_MODEL


def document_encoder_identity(config: Config) -> str:
    """The identity an index built with ``config.model`` records, without loading the model."""
    if _is_hashing(config.model):
        return HashingEncoder().identity
    try:
        return resolve_model(config.model).identity
    except ModelNotFoundError as err:
        raise EncoderError(str(err)) from err


def load_document_encoder(config: Config) -> DocumentEncoder:
    if _is_hashing(config.model):
        return HashingEncoder()
    from codequest.encoders.teacher import SentenceTransformerEncoder

    return SentenceTransformerEncoder(
        config.model, device=config.device, batch_size=config.batch_size
    )


def find_shipped_student(teacher_identity: str, name: str | None = None) -> Path | None:
    """A distilled student shipped for this teacher, if any (see codequest.distill): the
    default one, or the one called ``name``."""
    try:
        from codequest.students import shipped_student_dir
    except ImportError:
        return None
    return shipped_student_dir(teacher_identity, name)


def open_query_artifact(folder: Path) -> QueryEncoder:
    """Load an artifact folder with the encoder its card names (static numpy, or ONNX)."""
    import json

    try:
        card = json.loads((folder / "card.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise EncoderError(f"query encoder at {folder} has no readable card.json: {err}") from err
    if card.get("encoder") == "static":
        from codequest.encoders.static_query import StaticQueryEncoder

        return StaticQueryEncoder(folder)
    from codequest.encoders.onnx_query import OnnxQueryEncoder

    return OnnxQueryEncoder(folder)


def _check_teacher(encoder: QueryEncoder, where: object, teacher_identity: str) -> QueryEncoder:
    if encoder.teacher_identity != teacher_identity:
        raise EncoderError(
            f"query encoder {where} was trained for teacher {encoder.teacher_identity!r}, "
            f"but the index was built with {teacher_identity!r}; re-index or pick a "
            "matching student"
        )
    return encoder


def load_query_encoder(config: Config, teacher_identity: str) -> QueryEncoder:
    """The resident query encoder for an index built by ``teacher_identity``.

    ``auto`` prefers a shipped student for this teacher and falls back to the teacher's own
    ONNX export (exported once, with torch, then cached). Any other value is an artifact
    folder or the name of a student shipped for this teacher (``lora32-keep025-cos``). An
    explicit artifact whose teacher differs from the index is refused with a clear message.
    """
    if _is_hashing(config.model) or teacher_identity.startswith("hashing-"):
        return HashingEncoder()
    choice = config.query_encoder
    from codequest.encoders.onnx_query import OnnxQueryEncoder

    if choice == "teacher":
        from codequest.encoders.teacher import SentenceTransformerEncoder

        return SentenceTransformerEncoder(config.model, device="cpu")
    if choice not in ("auto", "teacher-onnx", "teacher-int8"):
        folder = Path(choice).expanduser()
        if not folder.exists() and "/" not in choice:
            # Not a folder: the name of a student shipped beside the default.
            named = find_shipped_student(teacher_identity, choice)
            if named is not None:
                folder = named
        return _check_teacher(open_query_artifact(folder), repr(choice), teacher_identity)
    if choice == "auto":
        student = find_shipped_student(teacher_identity)
        if student is not None:
            return _check_teacher(open_query_artifact(student), str(student), teacher_identity)
    from codequest.encoders.export import export_teacher, teacher_onnx_dir

    int8 = choice == "teacher-int8"
    folder = teacher_onnx_dir(teacher_identity, int8=int8)
    if not (folder / "card.json").is_file():
        folder = export_teacher(resolve_model(config.model), int8=int8)
    encoder = OnnxQueryEncoder(folder)
    if encoder.teacher_identity != teacher_identity:
        raise EncoderError(
            f"exported query encoder at {folder} belongs to {encoder.teacher_identity!r}, "
            f"not {teacher_identity!r}"
        )
    return encoder
