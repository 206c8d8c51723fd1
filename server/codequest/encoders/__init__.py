"""Encoder factories. Only :func:`load_document_encoder` may import torch."""

from __future__ import annotations

import logging
from pathlib import Path

from codequest.config import Config
from codequest.encoders.base import (
    DOCUMENT_RECIPE,
    BasicQueryEncoder,
    DocumentEncoder,
    QueryEncoder,
    declared,
    document_text,
    normalize_rows,
)
from codequest.encoders.hashing import HashingEncoder
from codequest.encoders.models import resolve_model
from codequest.errors import EncoderError, ModelNotFoundError, StudentBuildError

__all__ = [
    "DOCUMENT_RECIPE",
    "DocumentEncoder",
    "HashingEncoder",
    "BasicQueryEncoder",
    "QueryEncoder",
    "declared",
    "document_encoder_identity",
    "document_text",
    "load_document_encoder",
    "load_query_encoder",
    "load_resident_document_encoder",
    "normalize_rows",
    "open_query_artifact",
    "prepare_document_export",
    "query_encoder_needs_build",
    "resident_document_encoder_ready",
]

log = logging.getLogger(__name__)

HASHING_MODEL = "hashing"
# The teacher's own ONNX exports, by the ``queryEncoder`` values that pick them.
TEACHER_INT8 = "teacher-int8"
TEACHER_ONNX = "teacher-onnx"


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


def _document_export_dir(config: Config) -> Path:
    from codequest.encoders.export import teacher_onnx_dir

    return teacher_onnx_dir(document_encoder_identity(config), int8=False)


def resident_document_encoder_ready(config: Config) -> bool:
    """Whether :func:`load_resident_document_encoder` would load (nothing to export)."""
    return _is_hashing(config.model) or (_document_export_dir(config) / "card.json").is_file()


def load_resident_document_encoder(config: Config) -> DocumentEncoder | None:
    """The document encoder a long-lived process may hold: no torch (the hashing encoder, or
    the teacher's fp32 ONNX export under ONNX Runtime, which gives the torch teacher's
    vectors); None while the export does not exist (:func:`prepare_document_export`)."""
    if _is_hashing(config.model):
        return HashingEncoder()
    folder = _document_export_dir(config)
    if not (folder / "card.json").is_file():
        return None
    from codequest.encoders.onnx_document import OnnxDocumentEncoder

    encoder = OnnxDocumentEncoder(folder)
    expected = document_encoder_identity(config)
    if encoder.identity != expected:
        raise EncoderError(
            f"the ONNX export at {folder} belongs to {encoder.identity!r}, not {expected!r}"
        )
    return encoder


def prepare_document_export(config: Config) -> Path | None:
    """Export the teacher for :func:`load_resident_document_encoder`, once (needs torch)."""
    if _is_hashing(config.model):
        return None
    folder = _document_export_dir(config)
    if (folder / "card.json").is_file():
        return folder
    from codequest.encoders.export import export_teacher

    try:
        return export_teacher(resolve_model(config.model), int8=False)
    except ModelNotFoundError as err:
        raise EncoderError(str(err)) from err


def query_encoder_needs_build(config: Config, teacher_identity: str) -> bool:
    """Whether :func:`load_query_encoder` would first build a student or export the teacher
    (with torch), so that a process that must not import torch can have it done elsewhere
    (``codequest.encoders.worker prepare``) before it loads the encoder."""
    from codequest.encoders.export import teacher_onnx_dir
    from codequest.encoders.students import needs_build

    if _is_hashing(config.model) or teacher_identity.startswith("hashing-"):
        return False
    choice = config.query_encoder
    if choice in (TEACHER_ONNX, TEACHER_INT8):
        folder = teacher_onnx_dir(teacher_identity, int8=choice == TEACHER_INT8)
        return not (folder / "card.json").is_file()
    if choice == "teacher" or Path(choice).expanduser().exists():
        return False
    pending = needs_build(teacher_identity, None if choice == "auto" else choice)
    if pending is None and choice == "auto":  # no student for this teacher: teacher-int8
        return not (teacher_onnx_dir(teacher_identity, int8=True) / "card.json").is_file()
    return bool(pending)


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

    ``auto`` serves the shipped default student for this teacher (built once from its
    delta, see :mod:`codequest.encoders.students`). When that student cannot be built, or none was
    trained for this teacher, it serves the teacher's int8 ONNX export (``teacher-int8``,
    exported once, with torch, then cached); the first case is logged as one warning that
    names the encoder in use and what would bring the default back, and the encoder's
    ``note`` repeats it. Any other value is ``teacher-int8``, ``teacher-onnx`` (fp32),
    ``teacher`` (torch), an artifact folder or the name of a student shipped for this
    teacher. An explicit artifact whose teacher differs from the index is refused.
    """
    if _is_hashing(config.model) or teacher_identity.startswith("hashing-"):
        return HashingEncoder()
    choice = config.query_encoder
    if choice == "teacher":
        from codequest.encoders.teacher import SentenceTransformerEncoder

        return SentenceTransformerEncoder(config.model, device="cpu")
    if choice in ("teacher-onnx", "teacher-int8"):
        return _teacher_export(config, teacher_identity, int8=choice == "teacher-int8")
    if choice != "auto":
        return _check_teacher(_named(choice, teacher_identity), repr(choice), teacher_identity)
    from codequest.encoders.students import shipped_student_dir

    try:
        student = shipped_student_dir(teacher_identity)
    except StudentBuildError as err:
        note = (
            f"query encoder {TEACHER_INT8} answers queries, not the default {err.name}: "
            f"{err.reason}; to get the default, {err.hint}"
        )
        log.warning("%s", note)
        log.debug("building %s failed", err.name, exc_info=err)
        return _teacher_export(config, teacher_identity, int8=True, note=note)
    if student is None:
        return _teacher_export(config, teacher_identity, int8=True)
    return _check_teacher(open_query_artifact(student), str(student), teacher_identity)


def _named(choice: str, teacher_identity: str) -> QueryEncoder:
    """An artifact folder, or the name of a student shipped beside the default."""
    folder = Path(choice).expanduser()
    if not folder.exists() and "/" not in choice:
        from codequest.encoders.students import shipped_student_dir

        try:
            named = shipped_student_dir(teacher_identity, choice)
        except StudentBuildError as err:
            raise EncoderError(f"{err}; to use it, {err.hint}") from err
        if named is not None:
            folder = named
    return open_query_artifact(folder)


def _teacher_export(
    config: Config, teacher_identity: str, *, int8: bool, note: str = ""
) -> QueryEncoder:
    from codequest.encoders.export import export_teacher, teacher_onnx_dir
    from codequest.encoders.onnx_query import OnnxQueryEncoder

    name = TEACHER_INT8 if int8 else TEACHER_ONNX
    folder = teacher_onnx_dir(teacher_identity, int8=int8)
    if not (folder / "card.json").is_file():
        try:
            folder = export_teacher(resolve_model(config.model), int8=int8)
        except ModelNotFoundError as err:
            raise EncoderError(str(err)) from err
        except ImportError as err:  # the export runs the teacher once, under torch
            missing = (err.name or str(err)).split(".")[0]
            raise EncoderError(
                f"cannot export the query encoder {name}: {missing} is not installed "
                f"(pip install {missing})"
            ) from err
    encoder = OnnxQueryEncoder(folder, name=name, note=note)
    if encoder.teacher_identity != teacher_identity:
        raise EncoderError(
            f"exported query encoder at {folder} belongs to {encoder.teacher_identity!r}, "
            f"not {teacher_identity!r}"
        )
    return encoder
