"""Face bindings: which latent space a checkpoint, a data set and a face agree on.

A checkpoint records the binding it was trained for; a face model declares the binding
it renders; loading one against the other checks the names match (``require_binding``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np

from . import facs


@dataclass(frozen=True)
class FaceBinding:
    """A named latent layout: expression channel names, jaw size, optional PSPI read-out."""

    name: str
    expression_names: tuple[str, ...]
    jaw_dim: int
    pspi: Optional[Callable[[np.ndarray], np.ndarray]]

    @property
    def latent_dim(self) -> int:
        return len(self.expression_names) + self.jaw_dim


BUILTIN_FACS = FaceBinding("builtin-facs-53", facs.EXPRESSION_CHANNELS, facs.JAW_DIM, facs.pspi)
FLAME_EMOCA = FaceBinding("flame-emoca-53", tuple(f"psi{i}" for i in range(50)), 3, None)
FLAME_EMOCA_100 = FaceBinding("flame-emoca-100", tuple(f"psi{i}" for i in range(100)), 3, None)
"""All 100 FLAME 2020 expression coefficients of EMOCA + jaw: the authors' BioVid latent."""

BINDINGS: dict[str, FaceBinding] = {b.name: b for b in (BUILTIN_FACS, FLAME_EMOCA, FLAME_EMOCA_100)}


class FaceBindingError(ValueError):
    """A latent space mismatch between a checkpoint, a data set or a face."""


def get_binding(name: str) -> FaceBinding:
    """Look up a binding by name, with a clear error for an unknown one."""
    try:
        return BINDINGS[name]
    except KeyError:
        raise FaceBindingError(f"unknown face binding {name!r}; known: {', '.join(BINDINGS)}") from None


def require_binding(found: str, expected: str, what: str) -> None:
    """Raise ``FaceBindingError`` naming ``what`` when two binding names differ."""
    if found != expected:
        raise FaceBindingError(
            f"{what} was made for face binding {found!r} but {expected!r} is in use; "
            "use a checkpoint trained for this face (or switch the face)"
        )
