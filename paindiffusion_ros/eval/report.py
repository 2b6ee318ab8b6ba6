"""``paindiffusion eval``: the paper's Table I on held-out subjects, plus the control checks.

Held-out data are the synthetic world's validation subjects drawn with the checkpoint's
own data settings (or the BioVid validation split, ``--biovid-root``). For each subject a
``--frames``-long sequence near a stimulus change (640 = 10× the training window, paper
§IV-B) is generated ``--generations`` times by the model (``PainGenerator``) and by the
two baselines built from the checkpoint's training data. Writes ``OUT/report.json``,
``OUT/report.md`` (Table I layout, margins over the baselines, controls) and
``OUT/pspi.png`` (paper Fig. 6 style).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import numpy as np
from tqdm import tqdm

from ..data.dataset import PainDataset
from ..data.settings import check_fields, from_mapping
from ..data.sources import DataConfig, load_data
from ..model.generator import GeneratorConfig, PainGenerator, resolve_model_dir
from ..model.checkpoint import load_checkpoint
from .baselines import Generation, NearestNeighbor, RandomTrainingSample
from .cases import EvalCase, held_out_cases, plateau_stimulus
from .controls import MIN_RISE, divergence_check, expressiveness_response, stimulus_response
from .figure import plot_pspi
from .metrics import METRICS, Scores, average_scores, score_sequences
from .streaming import generate_sequence

CONTROL_FRAMES = 160
"""Shortest probe of the stimulus/expressiveness checks: 1 s lead-in, a 4 s plateau, 1.4 s after."""
METHODS = ("paindiffusion", "random", "nearest_neighbor")
LABELS = {"paindiffusion": "PainDiffusion (diffusion forcing)", "random": "Random Training Sample",
          "nearest_neighbor": "Nearest Neighbor"}


@dataclass
class EvalConfig:
    """Settings of one evaluation run."""

    model: str = field(default="", metadata={"help": "checkpoint directory; empty = the shipped default"})
    subjects: int = field(default=12, metadata={"help": "held-out subjects (paper: 26 validation subjects)", "range": (1, 10000)})
    frames: int = field(default=640, metadata={"help": "generated frames per sequence (paper: 640)", "range": (16, 100000)})
    generations: int = field(default=5, metadata={"help": "generations per sequence (Divrs, Fig. 6 band)", "range": (1, 100)})
    seed: int = field(default=0, metadata={"help": "first generation seed", "range": (0, 2**31 - 1)})
    steps: int = field(default=15, metadata={"help": "denoising steps per frame", "range": (1, 100)})
    backend: str = field(default="onnx", metadata={"help": "generator runtime (onnx is what the ROS node runs)", "choices": ("torch", "onnx")})
    threads: int = field(default=1, metadata={"help": "CPU threads for the generator", "range": (0, 256)})
    guidance_emotion: float = field(default=GeneratorConfig.guidance_emotion, metadata={"help": "guidance strength λ of the emotion (eq. 7)", "range": (0.0, 10.0)})
    guidance_expressiveness: float = field(default=GeneratorConfig.guidance_expressiveness, metadata={"help": "guidance strength λ of the expressiveness (eq. 7)", "range": (0.0, 10.0)})
    guidance_stimulus: float = field(default=GeneratorConfig.guidance_stimulus, metadata={"help": "guidance strength λ of the stimulus (eq. 7)", "range": (0.0, 10.0)})
    controls: bool = field(default=True, metadata={"help": "also run the divergence / stimulus / expressiveness checks"})
    biovid_root: str = field(default="", metadata={"help": "evaluate on the BioVid validation split under this directory"})

    def __post_init__(self) -> None:
        check_fields(self, "eval")


def data_config_of(checkpoint_training: dict[str, Any], biovid_root: str) -> DataConfig:
    """The data settings the checkpoint was trained with (or BioVid when a root is given)."""
    known = {f.name for f in dataclasses.fields(DataConfig)}
    saved = {k: v for k, v in checkpoint_training.get("data", {}).items() if k in known}
    if biovid_root:
        saved.update(source="biovid", biovid_root=biovid_root)
    return from_mapping(DataConfig, saved, "checkpoint training data")


class Evaluation:
    """Generates with the model and the baselines for every held-out case and scores them."""

    def __init__(self, config: EvalConfig, progress: bool = True) -> None:
        self.config, self.progress = config, progress
        model_dir = resolve_model_dir(config.model)
        checkpoint = load_checkpoint(model_dir)
        self.model_dir = model_dir
        self.training = checkpoint.training
        data = data_config_of(checkpoint.training, config.biovid_root)
        self.train = load_data(data, "train", progress=progress)
        self.held_out: PainDataset = load_data(data, "validation", subjects=config.subjects, progress=progress)
        self.train.require(checkpoint.binding.name)
        self.held_out.require(checkpoint.binding.name)
        window = checkpoint.config.window
        defaults = GeneratorConfig()
        self.generator = PainGenerator(GeneratorConfig(
            model=str(model_dir), backend=config.backend, threads=config.threads, steps=config.steps, window=window,
            context=min(defaults.context, window // 2), horizon=min(defaults.horizon, window // 2),
            guidance_emotion=config.guidance_emotion, guidance_expressiveness=config.guidance_expressiveness,
            guidance_stimulus=config.guidance_stimulus,
        ))
        self.baselines = {"random": RandomTrainingSample(self.train), "nearest_neighbor": NearestNeighbor(self.train)}
        self.cases = held_out_cases(self.held_out, config.frames)

    def model(self, stimulus_c: np.ndarray, expressiveness: float, emotion: int, seed: int) -> Generation:
        return generate_sequence(self.generator, stimulus_c, expressiveness, emotion, seed)

    def seeds(self) -> list[int]:
        return [self.config.seed + g for g in range(self.config.generations)]

    def score(self) -> tuple[dict[str, Scores], list[list[Generation]]]:
        """Average metrics per method, and the model's generations per case (for the figure)."""
        per_method: dict[str, list[Scores]] = {m: [] for m in METHODS}
        model_generations = []
        bar = tqdm(self.cases, desc="eval", unit="sequence", disable=not self.progress)
        for case in bar:
            outputs = {"paindiffusion": [self.model(case.stimulus_c, case.expressiveness, case.emotion, s) for s in self.seeds()]}
            for name, baseline in self.baselines.items():
                outputs[name] = [baseline.generate(case.stimulus_c, s) for s in self.seeds()]
            for name, gens in outputs.items():
                per_method[name].append(_score(gens, case))
            model_generations.append(outputs["paindiffusion"])
        return {m: average_scores(s) for m, s in per_method.items()}, model_generations

    def controls(self) -> dict[str, Any]:
        """Divergence, stimulus-strength and expressiveness checks on a typical held-out subject."""
        c = self.config
        typical = self.cases[0]
        expressiveness = np.array([r.expressiveness for r in self.train.recordings])
        seeds = self.seeds()[:2]
        probe = max(c.frames // 2, CONTROL_FRAMES)
        return {
            "divergence": divergence_check(self.model, typical.expressiveness, typical.emotion, c.frames, seeds),
            "stimulus": stimulus_response(self.model, (43.0, 46.5, 50.0), typical.expressiveness, typical.emotion, probe, seeds),
            "expressiveness": expressiveness_response(
                self.model, [float(np.percentile(expressiveness, q)) for q in (10, 50, 90)],
                plateau_stimulus(probe, 48.0), typical.emotion, seeds,
            ),
        }


def _score(generations: list[Generation], case: EvalCase) -> Scores:
    pspi = [g.pspi for g in generations]
    if case.pspi is None or any(p is None for p in pspi):
        raise ValueError(f"case {case.name}: PSPI is needed for Sim/Corr but this face binding has no PSPI read-out")
    return score_sequences([g.latent for g in generations], pspi, case.latent, case.pspi)


def margins(scores: dict[str, Scores]) -> dict[str, dict[str, float]]:
    """How much the model beats each baseline: Sim lower by %, Corr higher by (absolute)."""
    model = scores["paindiffusion"]
    out = {}
    for name in ("random", "nearest_neighbor"):
        base = scores[name]
        out[name] = {
            "sim_lower_by_percent": round(100.0 * (base.sim - model.sim) / base.sim, 2) if base.sim else 0.0,
            "corr_higher_by": round(model.corr - base.corr, 4),
            "beats_on_sim_and_corr": bool(model.sim < base.sim and model.corr > base.corr),
        }
    return out


def ground_truth_row(cases: list[EvalCase]) -> Scores:
    """Table I's ground-truth line: perfect Sim/Corr/Dist, no diversity, the data's own Var."""
    var = float(np.mean([np.asarray(c.latent, dtype=np.float64).var(axis=0).mean() for c in cases]))
    return Scores(sim=0.0, corr=1.0, dist=0.0, divrs=0.0, var=var)


def markdown(report: dict[str, Any]) -> str:
    """Table I layout, the margins, the controls and the setup."""
    setup = report["setup"]
    lines = [
        "# PainDiffusion evaluation (paper Table I layout)", "",
        f"{setup['sequences']} held-out sequences × {setup['generations']} generations, {setup['frames']} frames each "
        f"({setup['data']}); model `{setup['model']}` ({setup['model_steps']} training steps).", "",
        "| | PSPI Sim ↓ | PSPI Corr ↑ | Dist ↓ | Divrs ↑ | Var ↑ |", "|---|---|---|---|---|---|",
    ]

    def row(label: str, s: dict[str, float], spread: bool) -> str:
        sim = f"{s['sim']:.1f}" + (f" ± {s['sim_std']:.1f}" if spread else "")
        corr = f"{s['corr']:.3f}" + (f" ± {s['corr_std']:.3f}" if spread else "")
        return f"| {label} | {sim} | {corr} | {s['dist']:.4f} | {s['divrs']:.4f} | {s['var']:.4f} |"

    lines.append(row("Ground truth", report["ground_truth"], False))
    lines.append("| *Naive methods* | | | | | |")
    lines += [row(LABELS[m], report[m], True) for m in ("random", "nearest_neighbor")]
    lines.append("| *Model-based* | | | | | |")
    lines.append(row(LABELS["paindiffusion"], report["paindiffusion"], True))
    lines += ["", "Sim: DTW distance of PSPI (accumulated |Δ|); Corr: Pearson of PSPI; ± = std over generations "
              "(mean over sequences). Dist/Divrs/Var: MSE to ground truth, MSE between generations, variance over "
              "time, on the 53 face parameters.", "", "## PainDiffusion vs the naive baselines", ""]
    for name, m in report["margins"].items():
        verdict = "beats" if m["beats_on_sim_and_corr"] else "does NOT beat"
        lines.append(f"- {verdict} {LABELS[name]}: Sim lower by {m['sim_lower_by_percent']:.1f} %, "
                     f"Corr higher by {m['corr_higher_by']:+.3f}.")
    controls = report.get("controls")
    if controls:
        d = controls["divergence"]
        lines += ["", "## Controls and stability", "",
                  f"- Divergence over {d['frames']} frames (identical {d['window']}-frame range-of-motion cycles, "
                  f"measured after a {d['lead_in']}-frame lead-in from the neutral start): "
                  f"last/first {d['window']}-frame window ratios "
                  + ", ".join(f"{k} {v:.2f}" for k, v in d["ratios"].items() if v is not None)
                  + f" → {'stable (all within 0.5–2×)' if d['stable'] else 'NOT within 0.5–2×'}."]
        s = controls["stimulus"]
        lines.append("- Stimulus strength (4 s plateaus): " + "; ".join(
            f"{r['level_c']:.1f} °C → movement {r['movement']:.4f}, PSPI {_fmt(r['pspi_mean'])}" for r in s["levels"])
            + f" → movement {'rises' if s['movement_increases'] else 'does NOT rise'} with the stimulus, "
            f"PSPI {'rises' if s['pspi_increases'] else 'does NOT rise'} (a rise = every step up > {100 * MIN_RISE:.0f} %).")
        e = controls["expressiveness"]
        lines.append("- Expressiveness setting: " + "; ".join(
            f"𝒫 = {r['expressiveness']:.2f} → PSPI {_fmt(r['pspi_mean'])}" for r in e["settings"])
            + f" → PSPI {'rises' if e['pspi_increases'] else 'does NOT rise'} with the setting.")
    return "\n".join(lines) + "\n"


def _fmt(value: Optional[float]) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def evaluate(config: EvalConfig, out: Path, progress: bool = True) -> dict[str, Any]:
    """Run the evaluation and write report.json, report.md and pspi.png into ``out``."""
    evaluation = Evaluation(config, progress)
    scores, generations = evaluation.score()
    report: dict[str, Any] = {m: scores[m].to_dict() for m in METHODS}
    report["ground_truth"] = ground_truth_row(evaluation.cases).to_dict()
    report["margins"] = margins(scores)
    if config.controls:
        report["controls"] = evaluation.controls()
    report["setup"] = {
        "model": str(evaluation.model_dir), "model_steps": evaluation.training.get("steps"),
        "data": f"{evaluation.held_out.binding} held-out "
                f"{'BioVid validation' if config.biovid_root else 'synthetic validation'} subjects",
        "sequences": len(evaluation.cases), "frames": config.frames, "generations": config.generations,
        "sampler_steps": config.steps, "backend": config.backend,
        "guidance": [config.guidance_emotion, config.guidance_expressiveness, config.guidance_stimulus], "seed": config.seed, "metrics": list(METRICS),
    }
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    (out / "report.md").write_text(markdown(report))
    plot_pspi(evaluation.cases, [[g.pspi for g in gens] for gens in generations], out / "pspi.png")
    return report


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", type=Path, required=True, help="directory for report.json, report.md, pspi.png")
    for f in dataclasses.fields(EvalConfig):
        flag = "--" + f.name.replace("_", "-")
        if isinstance(f.default, bool):
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=f.default, help=f.metadata["help"])
        else:
            parser.add_argument(flag, type=type(f.default), default=f.default, help=f.metadata["help"])


def run(args: argparse.Namespace) -> int:
    values = {f.name: getattr(args, f.name) for f in dataclasses.fields(EvalConfig)}
    evaluate(EvalConfig(**values), args.out)
    print((Path(args.out) / "report.md").read_text())
    return 0
