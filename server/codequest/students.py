"""Students shipped with the package, and their one-time build at first use.

``server/codequest/data/students/<name>/`` holds a card and a small delta (the learned map
and, for LoRA students, the LoRA factors; a few hundred KB), or only a card for the compact
adaptation (``base.kind == "teacher-int8"``: the teacher quantised to int8).

The first time an index built by the matching teacher needs a query encoder, the delta is
combined with the teacher's own weights into a servable artifact under
``$CODEQUEST_HOME/students/<name>-<digest>/`` (the int8 teacher goes where the fp32 export
goes). That needs torch once, like the teacher's ONNX export; later processes load the
folder with no torch at all. Importing this module imports neither torch nor onnxruntime.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from codequest.models import codequest_home

log = logging.getLogger(__name__)

SHIPPED = Path(__file__).parent / "data" / "students"


def shipped_cards() -> list[tuple[Path, dict[str, object]]]:
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


def built_dir(delta_folder: Path) -> Path:
    from codequest.distill.artifact import delta_digest

    return codequest_home() / "students" / f"{delta_folder.name}-{delta_digest(delta_folder)}"


def shipped_student_dir(teacher_identity: str, name: str | None = None) -> Path | None:
    """The built artifact of the default shipped student for this teacher, or None.

    ``name`` asks for that shipped student instead of the default. None when no such student
    was trained for this teacher, or when the artifact is not built yet and cannot be (no
    torch, or the teacher's weights are not available locally).
    """
    for folder, card in shipped_cards():
        if card.get("teacher") != teacher_identity:
            continue
        if name is not None and card.get("name", folder.name) != name:
            continue
        base = card.get("base")
        compact = isinstance(base, dict) and base.get("kind") == "teacher-int8"
        if not compact:
            target = built_dir(folder)
            if (target / "card.json").is_file():
                return target
        try:
            from codequest.distill.artifact import build_from_delta
            from codequest.models import resolve_model

            teacher = resolve_model(str(card.get("teacher_name", "all-MiniLM-L6-v2")))
            if teacher.identity != teacher_identity or teacher.source == "hub":
                continue
            if compact:
                # The compact adaptation ships no weights: the teacher, int8-quantised.
                from codequest.encoders.export import export_teacher, teacher_onnx_dir

                ready = teacher_onnx_dir(teacher_identity, int8=True)
                if (ready / "card.json").is_file():
                    return ready
                return export_teacher(teacher, int8=True)
            log.info("building shipped student %s for %s (once)", folder.name, teacher_identity)
            return build_from_delta(folder, teacher.path, target)
        except ImportError as err:
            log.warning("cannot build shipped student %s: %s", folder.name, err)
            return None
    return None
