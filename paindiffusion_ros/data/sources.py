"""Where training/evaluation data come from: the synthetic world or BioVid/EMOCA features."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .biovid import load_biovid
from .dataset import PainDataset
from .settings import check_fields
from .synthetic import PROGRAMMES, SyntheticWorldConfig, generate_world

SOURCES = ("synthetic", "biovid")


@dataclass
class DataConfig:
    """The ``data:`` section of a training config."""

    source: str = field(default="synthetic", metadata={"help": "synthetic world or BioVid/EMOCA features", "choices": SOURCES})
    subjects: int = field(default=61, metadata={"help": "number of synthetic training subjects (BioVid uses its whole split)", "range": (1, 10000)})
    seconds: float = field(default=300.0, metadata={"help": "synthetic recording length per subject (s)", "range": (10.0, 7200.0)})
    programme: str = field(default="mixed", metadata={"help": "synthetic stimulus programme", "choices": PROGRAMMES})
    seed: int = field(default=0, metadata={"help": "data seed (synthetic world; BioVid split when it has no split column)", "range": (0, 2**31 - 1)})
    biovid_root: str = field(default="", metadata={"help": "BioVid/EMOCA feature directory (see data/biovid.py)"})

    def __post_init__(self) -> None:
        check_fields(self, "data")
        if self.source == "biovid" and not self.biovid_root:
            raise ValueError("data: source=biovid needs biovid_root (the feature directory)")


def load_data(config: DataConfig, split: str, subjects: int | None = None, seconds: float | None = None,
              progress: bool = True) -> PainDataset:
    """One split of the configured data; ``subjects``/``seconds`` override the synthetic size."""
    if config.source == "biovid":
        return load_biovid(Path(config.biovid_root), split=split, seed=config.seed, subjects=subjects or None)
    world = SyntheticWorldConfig(
        subjects=subjects or config.subjects,
        seconds=seconds or config.seconds,
        programme=config.programme,
        seed=config.seed,
        split=split,
    )
    return generate_world(world, progress=progress)
