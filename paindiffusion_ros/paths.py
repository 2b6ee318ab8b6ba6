"""Where the package's data files live: the source tree, or a colcon install's share directory."""

from __future__ import annotations

from pathlib import Path

PACKAGE = "paindiffusion"
SOURCE_ROOT = Path(__file__).resolve().parent.parent
"""The checkout (or editable install) that holds ``config/``, ``models/``, ``launch/``."""


def package_path(*parts: str) -> Path:
    """``parts`` under the source tree when present there, else under ``share/paindiffusion``
    of a colcon install (found through the ament index); the source path when neither has it,
    so a caller's "not found" error names a real location."""
    source = SOURCE_ROOT.joinpath(*parts)
    if source.exists():
        return source
    try:
        from ament_index_python.packages import PackageNotFoundError, get_package_share_directory
    except ImportError:
        return source
    try:
        shared = Path(get_package_share_directory(PACKAGE)).joinpath(*parts)
    except (PackageNotFoundError, OSError):
        return source
    return shared if shared.exists() else source
