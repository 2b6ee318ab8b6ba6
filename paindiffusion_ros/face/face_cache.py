"""A disk cache of built faces: a respawned renderer loads its face instead of rebuilding it.

A face is stored as the arrays that define it, in one uncompressed NumPy ``.npz`` read
with ``allow_pickle=False`` (nothing but arrays, no code), named by a digest of its key:
what it was built from (e.g. the appearance and the asset install), the source of this
package, and the versions of the libraries whose arithmetic shapes the result. Any change
to one of them names another file, so a stale face is never served; the full key is also
stored in the file and compared on reading. A file is written to a temporary name and
moved into place (``os.replace``), so a reader never sees half of one, and two processes
starting at once each leave a whole file.

The directory is ``$PAINDIFFUSION_CACHE_DIR``, else ``$XDG_CACHE_HOME/paindiffusion``, else
``~/.cache/paindiffusion``; deleting it forces a rebuild. A directory that cannot be
written, or a corrupt or mismatched file, is one warning line and the face is built as
without a cache. The ``KEEP`` most recently used files of each kind are kept.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import logging
import os
import platform
import tempfile
import time
import zipfile
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Mapping, Optional, TypeVar

import numpy as np

LOG = logging.getLogger(__name__)
T = TypeVar("T")

CACHE_ENV = "PAINDIFFUSION_CACHE_DIR"
KEEP = 16
"""Files kept per kind (most recently used first); older ones are deleted after a write."""
STALE_TEMPORARY_S = 3600.0
"""Age after which a temporary file (left by a writer killed mid-write) is deleted."""
KEY_ENTRY = "__key__"
Arrays = Mapping[str, np.ndarray]


def cache_dir() -> Path:
    """``$PAINDIFFUSION_CACHE_DIR``, else ``$XDG_CACHE_HOME/paindiffusion``, else ``~/.cache/paindiffusion``."""
    explicit = os.environ.get(CACHE_ENV)
    if explicit:
        return Path(explicit)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "paindiffusion"


@lru_cache(maxsize=None)
def source_digest(package: Path = Path(__file__).resolve().parent) -> str:
    """sha256 over the names and contents of a package's ``.py`` files (this one by default)."""
    digest = hashlib.sha256()
    for path in sorted(package.glob("*.py")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def distribution_digest(name: str) -> str:
    """An installed distribution's version and a digest of its ``RECORD`` (every file's
    hash), so a reinstall from another build changes it too."""
    dist = importlib.metadata.distribution(name)
    record = dist.read_text("RECORD") or ""
    return f"{dist.version} {hashlib.sha256(record.encode()).hexdigest()[:16]}"


@lru_cache(maxsize=1)
def library_versions() -> dict[str, str]:
    """Versions of what computes a face (NumPy, OpenCV, numba and the CPU its kernels are compiled for)."""
    import cv2
    import llvmlite.binding
    import numba

    return {"python": platform.python_version(), "numpy": np.__version__, "opencv": cv2.__version__,
            "numba": numba.__version__, "cpu": llvmlite.binding.get_host_cpu_name()}


def key_text(fields: Mapping[str, Any]) -> str:
    """The canonical text of a key (JSON, sorted), with this package's source and the libraries added."""
    return json.dumps({**fields, "source": source_digest(), "libraries": library_versions()}, sort_keys=True)


def cache_path(kind: str, key: str, directory: Optional[Path] = None) -> Path:
    """The file of one key: ``<directory>/<kind>-<digest of the key>.npz``."""
    return (directory or cache_dir()) / f"{kind}-{hashlib.sha256(key.encode()).hexdigest()[:24]}.npz"


def read(path: Path, key: str) -> Optional[dict[str, np.ndarray]]:
    """The arrays stored under ``key`` in ``path``; None (and one warning line if the file
    exists but is unreadable or holds another key)."""
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {name: data[name] for name in data.files}
    except (FileNotFoundError, NotADirectoryError, PermissionError):
        return None  # nothing to read here; writing says whether the directory can be used
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as error:
        LOG.warning("face cache: %s is unreadable (%s); building the face and rewriting it", path, error)
        return None
    stored = arrays.pop(KEY_ENTRY, None)
    if stored is None or stored.shape != () or str(stored) != key:
        LOG.warning("face cache: %s holds another face's key; building the face and rewriting it", path)
        return None
    try:
        os.utime(path)  # most recently used: kept by prune
    except OSError:
        pass
    return arrays


def write(path: Path, key: str, arrays: Arrays) -> bool:
    """Store ``arrays`` under ``key`` atomically; False (and one warning line) if it cannot be written."""
    if KEY_ENTRY in arrays:
        raise ValueError(f"face cache: {KEY_ENTRY!r} is reserved for the key")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as out:
                np.savez(out, **{KEY_ENTRY: np.array(key)}, **arrays)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
    except OSError as error:
        LOG.warning("face cache: cannot write %s (%s); the face is built at every start", path.parent, error)
        return False
    return True


def prune(directory: Path, kind: str, keep: int = KEEP) -> None:
    """Delete all but the ``keep`` most recently used files of a kind, and old temporary files."""
    try:
        files = sorted(directory.glob(f"{kind}-*.npz"), key=lambda p: p.stat().st_mtime, reverse=True)
        now = time.time()
        stale = [p for p in directory.glob(f".{kind}-*.tmp") if now - p.stat().st_mtime > STALE_TEMPORARY_S]
        for path in files[keep:] + stale:
            path.unlink(missing_ok=True)
    except OSError:
        pass  # another process pruned the same file: nothing to do


def cached(kind: str, fields: Mapping[str, Any], build: Callable[[], Arrays], restore: Callable[[Arrays], T]) -> T:
    """``restore`` of the arrays cached for ``fields``, or of ``build()``'s (then cached).

    ``restore`` raising KeyError, ValueError or TypeError on cached arrays (a file from
    another layout) counts as a corrupt file: one warning, then the face is built."""
    key = key_text(fields)
    try:
        path = cache_path(kind, key)
    except RuntimeError as error:  # no home directory to put ~/.cache in
        LOG.warning("face cache: no cache directory (%s); set %s", error, CACHE_ENV)
        return restore(build())
    arrays = read(path, key)
    if arrays is not None:
        try:
            return restore(arrays)
        except (KeyError, ValueError, TypeError) as error:
            LOG.warning("face cache: %s does not hold a whole face (%s); building the face and rewriting it", path, error)
    built = build()
    if write(path, key, built):
        prune(path.parent, kind)
    return restore(built)
