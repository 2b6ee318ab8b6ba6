"""A checkpoint directory's ``config.json``, read without torch.

``checkpoint.py`` loads whole checkpoints (torch, safetensors); the pain_generator node,
which never imports torch (its model runs in ``generation_process.py``), reads here which
face binding a model was made for, so its topics carry that binding's expression size
from the first (neutral) frame on.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Optional

from ..face.binding import FaceBinding, get_binding

CONFIG_FILE = "config.json"
FORMAT = "paindiffusion-checkpoint"
FORMAT_VERSION = 1


class CheckpointError(ValueError):
    """A checkpoint directory that cannot be used; the message names the file and the problem."""


def read_meta(path: Path) -> dict[str, Any]:
    """The checked contents of a ``config.json``; ``CheckpointError`` names what is wrong."""
    if not path.is_file():
        raise CheckpointError(f"checkpoint file {path} is missing")
    try:
        meta = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CheckpointError(f"{path} is not valid JSON ({exc})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a {FORMAT} config (missing or wrong 'format')")
    if meta.get("version") != FORMAT_VERSION:
        raise CheckpointError(f"{path}: unsupported checkpoint version {meta.get('version')!r} (expected {FORMAT_VERSION})")
    for key in ("model", "face_binding", "normalization"):
        if key not in meta:
            raise CheckpointError(f"{path}: missing key {key!r}")
    for key in ("model", "normalization"):
        if not isinstance(meta[key], dict):
            raise CheckpointError(f"{path}: {key!r} must be a JSON object, got {type(meta[key]).__name__}")
    return meta


def read_face_binding(directory: str | Path) -> Optional[FaceBinding]:
    """The face binding a checkpoint directory records, without loading it; None when it cannot
    be read (``checkpoint.load_checkpoint`` then names the problem)."""
    try:
        return get_binding(read_meta(Path(directory) / CONFIG_FILE)["face_binding"])
    except (CheckpointError, ValueError, TypeError):
        return None
