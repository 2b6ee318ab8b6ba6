"""``paindiffusion train``: fit PainDiffusion on the synthetic world or BioVid/EMOCA features.

Paper §IV-B: 64-frame windows, AdamW at 4e-4 after a linear warm-up (5k of 300k steps —
the same 1/60 fraction when a run is shorter), EMA of the weights with decay 0.999, each
condition dropped with p = 0.1 (§III-D), an independent noise level per frame (diffusion
forcing, §III-E) through ``edm.edm_loss``. Seeded and resumable: ``OUT/train_state.pt``
holds weights, EMA, optimiser, schedule, step, wall time and both random generators, so
running the same command again continues where it stopped (also with more ``--steps``).
``OUT`` is a checkpoint directory (EMA weights, ``builtin-facs-53`` or the data's face
binding, normalisation fitted on the training set, training information).
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import os
import platform
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Optional

import numpy as np
import torch
import yaml
from tqdm import tqdm

from ..data.dataset import PainDataset, WindowBatch, WindowSampler
from ..data.settings import check_fields, from_mapping
from ..data.sources import DataConfig, load_data
from ..face.binding import get_binding
from .checkpoint import save_checkpoint
from .conditions import Conditions
from .config import ModelConfig
from .edm import EDMPrecond, edm_loss
from .network import TemporalUNet
from .normalization import LatentNormalization

STATE_FILE = "train_state.pt"
LOG_FILE = "train_log.jsonl"
PAPER_WARMUP_FRACTION = 5000 / 300000
VALIDATION_SUBJECTS, VALIDATION_SECONDS, VALIDATION_WINDOWS = 8, 60.0, 64


@dataclass
class TrainConfig:
    """The ``training:`` section of a training config."""

    steps: int = field(default=20000, metadata={"help": "optimiser steps in total (a resumed run continues to this)", "range": (1, 10_000_000)})
    batch_size: int = field(default=64, metadata={"help": "windows per step", "range": (1, 4096)})
    lr: float = field(default=4e-4, metadata={"help": "AdamW learning rate after warm-up (paper: 4e-4)", "range": (1e-7, 1.0)})
    warmup_steps: int = field(default=0, metadata={"help": "linear warm-up steps; 0 = the paper's 5k/300k fraction of steps", "range": (0, 1_000_000)})
    weight_decay: float = field(default=0.01, metadata={"help": "AdamW weight decay", "range": (0.0, 1.0)})
    ema_decay: float = field(default=0.999, metadata={"help": "EMA decay of the shipped weights (paper: 0.999)", "range": (0.0, 1.0)})
    grad_clip: float = field(default=1.0, metadata={"help": "gradient norm clip; 0 = off", "range": (0.0, 1e6)})
    seed: int = field(default=0, metadata={"help": "training seed (windows, noise, dropout, init)", "range": (0, 2**31 - 1)})
    device: str = field(default="cpu", metadata={"help": "torch device: cpu, cuda, cuda:N"})
    threads: int = field(default=2, metadata={"help": "CPU threads for torch", "range": (1, 256)})
    checkpoint_every: int = field(default=500, metadata={"help": "save checkpoint + resume state every N steps", "range": (1, 10_000_000)})
    time_limit_s: float = field(default=0.0, metadata={"help": "stop (and save) after this much wall time in this session; 0 = none", "range": (0.0, 1e7)})

    def __post_init__(self) -> None:
        check_fields(self, "training")
        try:
            device = torch.device(self.device)
        except RuntimeError:
            raise ValueError(f"training: device={self.device!r} is not a torch device (cpu, cuda, cuda:N)") from None
        if device.type == "cuda" and not torch.cuda.is_available():
            raise ValueError(f"training: device={self.device!r}, but torch {torch.__version__} finds no CUDA device")

    @property
    def warmup(self) -> int:
        return self.warmup_steps or max(1, round(self.steps * PAPER_WARMUP_FRACTION))


@dataclass
class RunConfig:
    """A whole training config file: model overrides, data and training sections."""

    model: ModelConfig
    data: DataConfig
    training: TrainConfig

    def to_dict(self) -> dict[str, Any]:
        return {"model": self.model.to_dict(), "data": asdict(self.data), "training": asdict(self.training)}


def load_run_config(path: Optional[Path]) -> RunConfig:
    """Read a YAML training config (``model``, ``data``, ``training`` sections); None = defaults."""
    raw: dict[str, Any] = {}
    if path is not None:
        try:
            raw = yaml.safe_load(Path(path).read_text()) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise ValueError(f"cannot read training config {path}: {exc}") from exc
        unknown = sorted(set(raw) - {"model", "data", "training"})
        if unknown:
            raise ValueError(f"{path}: unknown section(s) {', '.join(unknown)}; expected model, data, training")
    where = str(path) if path else "defaults"
    try:
        return RunConfig(
            model=ModelConfig.from_dict(raw.get("model") or {}),
            data=from_mapping(DataConfig, raw.get("data"), "data"),
            training=from_mapping(TrainConfig, raw.get("training"), "training"),
        )
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{where}: {exc}") from exc


def hardware_description(device: torch.device) -> str:
    """One line naming the machine the run used."""
    if device.type == "cuda":
        return f"{torch.cuda.get_device_name(device)} (CUDA), torch {torch.__version__}"
    return f"{platform.machine()} CPU, {os.cpu_count()} cores, {torch.get_num_threads()} torch threads, torch {torch.__version__}"


class Trainer:
    """One resumable training run writing into ``out``."""

    def __init__(self, config: RunConfig, out: Path, train_data: Optional[PainDataset] = None,
                 validation_data: Optional[PainDataset] = None, progress: bool = True) -> None:
        self.config, self.out, self.progress = config, Path(out), progress
        tc = config.training
        torch.set_num_threads(tc.threads)
        self.device = torch.device(tc.device)
        torch.manual_seed(tc.seed)
        self.train_data = train_data or load_data(config.data, "train", progress=progress)
        self.validation_data = validation_data or load_data(
            config.data, "validation", VALIDATION_SUBJECTS, VALIDATION_SECONDS, progress=progress
        )
        self.binding = get_binding(self.train_data.binding)
        self.validation_data.require(self.binding.name)
        self.normalization = LatentNormalization.fit(*self.train_data.stacked_frames())
        self.sampler = WindowSampler(self.train_data, config.model.window)
        self.validation = WindowSampler(self.validation_data, config.model.window).sample(
            VALIDATION_WINDOWS, np.random.default_rng(12345)
        )
        self.net = TemporalUNet(config.model).to(self.device)
        self.ema = copy.deepcopy(self.net).requires_grad_(False)
        self.precond = EDMPrecond(self.net, config.model.sigma_data)
        self.optimizer = torch.optim.AdamW(self.net.parameters(), lr=tc.lr, weight_decay=tc.weight_decay)
        self.schedule = torch.optim.lr_scheduler.LambdaLR(self.optimizer, lambda s: min(1.0, (s + 1) / tc.warmup))
        self.generator = torch.Generator(device=self.device).manual_seed(tc.seed)
        self.rng = np.random.default_rng(tc.seed)
        self.step = 0
        self.wall_time_s = 0.0
        self.last_loss = math.nan

    # -- batches -------------------------------------------------------------------
    def tensors(self, batch: WindowBatch) -> tuple[torch.Tensor, Conditions]:
        """Normalised latent and conditions of a window batch, on the training device."""
        z0 = self.normalization.encode(torch.from_numpy(batch.latent)).to(self.device)
        cond = Conditions(
            stimulus_c=torch.from_numpy(batch.stimulus_c),
            expressiveness=torch.from_numpy(batch.expressiveness),
            emotion=torch.from_numpy(batch.emotion),
        ).to(self.device)
        return z0, cond

    @torch.no_grad()
    def validation_loss(self, net: Optional[TemporalUNet] = None) -> float:
        """EDM loss of ``net`` (default: the EMA weights) on fixed validation windows and noise."""
        model = net or self.ema
        was_training = model.training
        model.eval()
        z0, cond = self.tensors(self.validation)
        generator = torch.Generator(device=self.device).manual_seed(777)
        loss = float(edm_loss(EDMPrecond(model, self.config.model.sigma_data), z0, cond, generator))
        model.train(was_training)
        return loss

    # -- one step ------------------------------------------------------------------
    def train_step(self) -> float:
        """One optimiser step with condition dropout, per-frame σ and an EMA update."""
        tc = self.config.training
        z0, cond = self.tensors(self.sampler.sample(tc.batch_size, self.rng))
        cond = cond.drop(self.config.model.condition_dropout, self.generator)
        loss = edm_loss(self.precond, z0, cond, self.generator)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if tc.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(self.net.parameters(), tc.grad_clip)
        self.optimizer.step()
        self.schedule.step()
        self.step += 1
        # EMA warm-up (decay grows to ema_decay) so short runs' EMA is not the initialisation.
        decay = min(tc.ema_decay, (1 + self.step) / (10 + self.step))
        with torch.no_grad():
            for e, p in zip(self.ema.parameters(), self.net.parameters()):
                e.lerp_(p, 1.0 - decay)
            for e, b in zip(self.ema.buffers(), self.net.buffers()):
                e.copy_(b)
        return float(loss.detach())

    # -- persistence ---------------------------------------------------------------
    def training_info(self) -> dict[str, Any]:
        tc = self.config.training
        return {
            "steps": self.step,
            "wall_time_s": round(self.wall_time_s, 1),
            "hardware": hardware_description(self.device),
            "data": {**asdict(self.config.data), "training_subjects": len(self.train_data.recordings),
                     "training_frames": int(sum(r.frames for r in self.train_data.recordings))},
            "data_seed": self.config.data.seed,
            "seed": tc.seed,
            "batch_size": tc.batch_size,
            "lr": tc.lr,
            "warmup_steps": tc.warmup,
            "ema_decay": tc.ema_decay,
            "condition_dropout": self.config.model.condition_dropout,
            "final_train_loss": round(self.last_loss, 5),
            "validation_loss": round(self.validation_loss(), 5),
        }

    def save(self) -> None:
        """Checkpoint (EMA weights) and resume state, each written atomically."""
        self.out.mkdir(parents=True, exist_ok=True)
        save_checkpoint(self.out, self.ema, self.config.model, self.normalization, self.binding, self.training_info())
        state = {
            "step": self.step,
            "wall_time_s": self.wall_time_s,
            "config": json.dumps(self.config.to_dict(), sort_keys=True),
            "net": self.net.state_dict(),
            "ema": self.ema.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "schedule": self.schedule.state_dict(),
            "torch_rng": self.generator.get_state(),
            "numpy_rng": json.dumps(self.rng.bit_generator.state),
            "last_loss": self.last_loss,
        }
        tmp = self.out / (STATE_FILE + ".tmp")
        torch.save(state, tmp)
        tmp.replace(self.out / STATE_FILE)

    def resume(self) -> bool:
        """Continue from ``OUT/train_state.pt`` if present; the model and data must match."""
        path = self.out / STATE_FILE
        if not path.is_file():
            return False
        state = torch.load(path, map_location=self.device, weights_only=True)
        saved = json.loads(state["config"])
        now = self.config.to_dict()
        for section in ("model", "data"):
            if saved[section] != now[section]:
                raise ValueError(
                    f"{path} was trained with a different {section} section ({saved[section]}); "
                    f"use a new --out directory or the original config"
                )
        self.net.load_state_dict(state["net"])
        self.ema.load_state_dict(state["ema"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.schedule.load_state_dict(state["schedule"])
        self.generator.set_state(state["torch_rng"].cpu() if self.device.type == "cpu" else state["torch_rng"])
        self.rng.bit_generator.state = json.loads(state["numpy_rng"])
        self.step, self.wall_time_s, self.last_loss = int(state["step"]), float(state["wall_time_s"]), float(state["last_loss"])
        return True

    # -- the loop ------------------------------------------------------------------
    def run(self) -> dict[str, Any]:
        """Train up to ``steps`` (or the time limit), saving periodically and at the end."""
        tc = self.config.training
        started = time.monotonic()
        wall_at_start = self.wall_time_s
        self.net.train()
        bar = tqdm(total=tc.steps, initial=self.step, desc="train", unit="step", disable=not self.progress)
        smooth = None
        try:
            while self.step < tc.steps:
                loss = self.train_step()
                smooth = loss if smooth is None else 0.98 * smooth + 0.02 * loss
                self.last_loss = smooth
                self.wall_time_s = wall_at_start + time.monotonic() - started
                bar.update(1)
                bar.set_postfix(loss=f"{smooth:.4f}", lr=f"{self.schedule.get_last_lr()[0]:.2e}")
                if self.step % tc.checkpoint_every == 0:
                    self._save_and_log()
                if tc.time_limit_s and time.monotonic() - started >= tc.time_limit_s:
                    break
        finally:
            bar.close()
            if self.step % tc.checkpoint_every:
                self._save_and_log()
        return self.training_info()

    def _save_and_log(self) -> None:
        self.save()
        self._log()

    def _log(self) -> None:
        record = {"step": self.step, "wall_time_s": round(self.wall_time_s, 1), "train_loss": self.last_loss,
                  "validation_loss": self.validation_loss()}
        with (self.out / LOG_FILE).open("a") as handle:
            handle.write(json.dumps(record) + "\n")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, default=None, help="training YAML (model/data/training sections), e.g. config/train_default.yaml")
    parser.add_argument("--out", type=Path, default=Path("runs/train/default"), help="checkpoint + resume-state directory")
    parser.add_argument("--steps", type=int, default=None, help="override training.steps (resuming continues to this)")
    parser.add_argument("--device", default=None, help="override training.device (cpu, cuda)")
    parser.add_argument("--time-limit", type=float, default=None, help="override training.time_limit_s (seconds)")
    parser.add_argument("--threads", type=int, default=None, help="override training.threads (1 is fastest on a busy shared CPU)")
    parser.add_argument("--fresh", action="store_true", help="ignore an existing resume state in --out")


def run(args: argparse.Namespace) -> int:
    config = load_run_config(args.config)
    overrides = {k: v for k, v in (
        ("steps", args.steps), ("device", args.device), ("time_limit_s", args.time_limit), ("threads", args.threads)
    ) if v is not None}
    if overrides:
        config.training = from_mapping(TrainConfig, {**asdict(config.training), **overrides}, "training")
    trainer = Trainer(config, args.out)
    if not args.fresh and trainer.resume():
        print(f"resuming {args.out} at step {trainer.step}")
    info = trainer.run()
    print(json.dumps(info, indent=2))
    return 0
