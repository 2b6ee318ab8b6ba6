"""A synthetic, FACS-grounded pain-response world: the project's redistributable training data.

Each synthetic subject feels heat stimuli and answers with a stream of FACS action-unit
intensities and a jaw pose in the built-in face's ``builtin-facs-53`` latent
(``face/facs.py``), at 25 Hz. Every frame's PSPI is exactly ``facs.pspi(expression)``.

Where the facts come from
-------------------------
* Stimulus protocol — BioVid HeatPain Database (Walter et al. 2013, IEEE CYBCONF; paper
  §IV-A): baseline 32 °C; per subject a calibrated pain threshold T1 and tolerance T4,
  with T2, T3 equidistant between them; temperatures never exceed 50.5 °C; each
  stimulus holds its level for 4 s, separated by randomised 8–12 s pauses at baseline.
  Thermode ramps of ~8 °C/s are the usual setting of such contact-heat protocols.
  Thresholds/tolerances of healthy adults cluster around 43 °C / 48 °C.
* Range-of-motion exercise — paper §III-F: the elbow's angular range maps linearly to
  the heat scale (32 → 50.5 °C), so each flexion–extension cycle of a clinician is a
  temperature ramp up, an optional hold and a ramp down.
* Which units respond to pain — Prkachin (1992, Pain 51:297) and Prkachin & Solomon
  (2008, Pain 139:267): brow lowering (AU4), orbital tightening (AU6/AU7), levator
  contraction (AU9/AU10) and eye closure (AU43) carry most pain information, hence
  PSPI; mouth opening (AU25/26/27) is a frequent companion. Individuals weight these
  clusters differently (Kunz & Lautenbacher 2014, Eur J Pain 18:813), and a sizeable
  share of people show little facial response at all (BioVid's "low expressive"
  subjects; paper §IV-A) — hence a per-subject cluster profile and a log-normal gain.
* How large a pain face gets — the UNBC-McMaster Shoulder Pain Archive (Lucey et al.
  2011, IEEE FG) spans PSPI 0–15 with most frames at 0–3: here stoic subjects reach
  PSPI ~1–2 at tolerance and expressive ones ~6–11 (10th/90th percentile), and the
  subjects' mean PSPI (expressiveness 𝒫) spreads over about 0.3–3.
* Perceived intensity grows positively accelerated above threshold (power-law
  psychophysics of noxious heat, Price et al. 1983, Pain 17:45) — exponent 1.5 here.
* Latency — facial reactions to phasic heat lag the stimulus by about 1–2 s (BioVid's
  pre-cut samples are 5.5 s windows starting 1 s after the target temperature is
  reached, to catch the delayed reaction); rises are faster than decays.
* Habituation — facial responses to repeated phasic heat decline over a session, a
  common finding of experimental pain studies; here the gain decays with accumulated
  pain exposure.
* Emotion-typical baselines — EMFACS prototypes (Ekman & Friesen 1978; Ekman, Friesen &
  Hager 2002): happiness AU6+12, sadness AU1+4+15, surprise AU1+2+5+26, fear
  AU1+2+4+5+7+20+26, anger AU4+5+7+23, disgust AU9+10+15+16, contempt unilateral
  AU12+14; a subject's emotion (one of the paper's 8 classes, estimated in the paper
  with HSEmotion) shows as a weak, slowly drifting display of its prototype.
* Blinks — spontaneous blink rate ~17/min at rest with wide individual spread
  (Bentivoglio et al. 1997, Mov Disord 12:1028); a blink closes in ~0.1 s and reopens
  in ~0.2 s (AU45).

The remaining numbers (noise levels, drift time constants, trial-to-trial gain spread,
emotion class frequencies) are modelling choices of this module, set so that the data
look like EMOCA-tracked BioVid faces: mostly calm, with graded, variable grimaces. The
facial noise is slow (1 s correlation time, AU intensity std 0.02–0.08): tracked
expression channels drift rather than flicker at 25 Hz.
Expressiveness is measured as in the paper: the subject's mean PSPI over the recording.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
from tqdm import tqdm

from ..face import facs
from ..face.binding import BUILTIN_FACS
from ..model.conditions import EMOTIONS
from .dataset import FPS, PainDataset, Recording
from .settings import check_fields

BASELINE_C = 32.0
MAX_C = 50.5
PLATEAU_S = 4.0
PAUSE_S = (8.0, 12.0)
RAMP_C_PER_S = 8.0
PAIN_EXPONENT = 1.5
GAIN_MEDIAN, GAIN_LOG_SPREAD, GAIN_RANGE = 0.8, 0.8, (0.1, 2.2)
"""Log-normal facial pain gain: stoic subjects PSPI ~1–2 at tolerance, expressive ones ~6–10."""
NOISE_RANGE, NOISE_TAU_S = (0.02, 0.08), 1.0
"""Per-subject facial noise (AU intensity std) and its correlation time (s)."""

EMOTION_PROTOTYPES: dict[str, dict[str, float]] = {
    "anger": {"AU4": 2.5, "AU5": 1.5, "AU7": 2.0, "AU23": 2.0, "AU24": 1.5},
    "contempt": {"AU12_R": 2.0, "AU14_R": 2.5},
    "disgust": {"AU9": 2.5, "AU10": 2.0, "AU15": 1.5, "AU16": 1.0},
    "fear": {"AU1": 2.0, "AU2": 2.0, "AU4": 1.0, "AU5": 2.0, "AU7": 1.0, "AU20": 2.0, "AU26": 1.5},
    "happiness": {"AU6": 2.0, "AU12": 3.0, "AU25": 1.0},
    "neutral": {},
    "sadness": {"AU1": 2.0, "AU4": 1.5, "AU15": 2.0, "AU17": 1.0},
    "surprise": {"AU1": 2.5, "AU2": 2.5, "AU5": 1.5, "AU26": 2.0},
}
"""EMFACS prototype intensities (0–5) per emotion class; ``_R`` marks a one-sided unit."""

EMOTION_FREQUENCY = np.array([0.08, 0.10, 0.08, 0.08, 0.15, 0.30, 0.12, 0.09])
"""How often each class of ``EMOTIONS`` (in that order) is a subject's emotion."""

PAIN_CLUSTERS: dict[str, dict[str, float]] = {
    "brow": {"AU4": 3.0},
    "eyes": {"AU6": 2.5, "AU7": 2.5},
    "nose": {"AU9": 2.0, "AU10": 2.0},
    "mouth": {"AU25": 2.0, "AU26": 1.5, "AU20": 1.0},
}
"""Pain's facial clusters (Kunz & Lautenbacher 2014) and each unit's intensity at full drive."""

BLINK_PROFILE = np.array([0.5, 1.0, 1.0, 0.75, 0.45, 0.2])
"""AU45 lid closure of one blink at 25 Hz: ~0.1 s closing, ~0.2 s reopening."""

JAW_OPEN_PER_AU26 = 0.06
"""Jaw opening (rad) per AU26 intensity unit; AU26 = 5 is a 0.3 rad jaw drop."""

PROGRAMMES = ("biovid", "rom", "mixed")
SPLITS = ("train", "validation")


@dataclass
class SyntheticWorldConfig:
    """Size and seed of a synthetic pain-response data set."""

    subjects: int = field(default=61, metadata={"help": "number of synthetic subjects (paper: 61 train / 26 validation)", "range": (1, 10000)})
    seconds: float = field(default=300.0, metadata={"help": "recording length per subject (s)", "range": (10.0, 7200.0)})
    programme: str = field(default="mixed", metadata={"help": "stimulus programme: BioVid plateaus, range-of-motion cycles, or half of each", "choices": PROGRAMMES})
    seed: int = field(default=0, metadata={"help": "data seed; the same seed gives the same data set", "range": (0, 2**31 - 1)})
    split: str = field(default="train", metadata={"help": "which disjoint population of subjects to draw", "choices": SPLITS})

    def __post_init__(self) -> None:
        check_fields(self, "synthetic world")

    @property
    def frames(self) -> int:
        return int(round(self.seconds * FPS))


@dataclass
class SubjectTraits:
    """Per-subject parameters, each an array of shape (S,)."""

    threshold_c: np.ndarray
    tolerance_c: np.ndarray
    gain: np.ndarray
    latency_s: np.ndarray
    tau_rise_s: np.ndarray
    tau_decay_s: np.ndarray
    habituation: np.ndarray
    habituation_scale_s: np.ndarray
    trial_spread: np.ndarray
    noise: np.ndarray
    blink_per_min: np.ndarray
    emotion: np.ndarray
    emotion_strength: np.ndarray
    cluster_weight: np.ndarray
    eye_closure: np.ndarray

    @property
    def count(self) -> int:
        return len(self.gain)

    def subset(self, index: np.ndarray) -> "SubjectTraits":
        return SubjectTraits(**{k: v[index] for k, v in asdict(self).items()})


def sample_traits(n: int, rng: np.random.Generator) -> SubjectTraits:
    """Draw ``n`` subjects (see the module docstring for where each range comes from)."""
    threshold = np.clip(rng.normal(43.0, 1.2, n), 40.0, 46.0)
    tolerance = np.clip(threshold + rng.normal(5.0, 1.0, n), threshold + 2.0, MAX_C)
    return SubjectTraits(
        threshold_c=threshold,
        tolerance_c=tolerance,
        gain=np.clip(rng.lognormal(np.log(GAIN_MEDIAN), GAIN_LOG_SPREAD, n), *GAIN_RANGE),
        latency_s=rng.uniform(0.8, 1.6, n),
        tau_rise_s=rng.uniform(0.3, 0.8, n),
        tau_decay_s=rng.uniform(1.0, 2.5, n),
        habituation=rng.uniform(0.1, 0.4, n),
        habituation_scale_s=rng.uniform(40.0, 120.0, n),
        trial_spread=rng.uniform(0.15, 0.4, n),
        noise=rng.uniform(*NOISE_RANGE, n),
        blink_per_min=rng.uniform(8.0, 26.0, n),
        emotion=rng.choice(len(EMOTIONS), size=n, p=EMOTION_FREQUENCY),
        emotion_strength=rng.uniform(0.1, 0.45, n),
        cluster_weight=rng.uniform(0.4, 1.0, (n, len(PAIN_CLUSTERS))),
        eye_closure=rng.uniform(0.0, 0.8, n),
    )


def _breakpoint_signal(times: list[np.ndarray], values: list[np.ndarray], frames: int) -> np.ndarray:
    """Piecewise-linear signals (S, frames) through per-subject (time s, value) breakpoints."""
    t = np.arange(frames) / FPS
    return np.stack([np.interp(t, ts, vs) for ts, vs in zip(times, values)])


def biovid_programme(traits: SubjectTraits, frames: int, rng: np.random.Generator) -> np.ndarray:
    """BioVid-style heat plateaus (°C, (S, frames)): T1–T4 in balanced random order."""
    levels = np.linspace(traits.threshold_c, traits.tolerance_c, 4, axis=1)
    duration = frames / FPS
    times, values = [], []
    for s in range(traits.count):
        t, ts, vs = rng.uniform(2.0, PAUSE_S[0]), [0.0], [BASELINE_C]
        order: list[int] = []
        while t < duration:
            if not order:
                order = list(rng.permutation(4))
            peak = float(min(levels[s, order.pop()], MAX_C))
            ramp = (peak - BASELINE_C) / RAMP_C_PER_S
            ts += [t, t + ramp, t + ramp + PLATEAU_S, t + 2 * ramp + PLATEAU_S]
            vs += [BASELINE_C, peak, peak, BASELINE_C]
            t += 2 * ramp + PLATEAU_S + rng.uniform(*PAUSE_S)
        times.append(np.array(ts))
        values.append(np.array(vs))
    return _breakpoint_signal(times, values, frames)


def range_of_motion_programme(n: int, frames: int, rng: np.random.Generator) -> np.ndarray:
    """A clinician's elbow flexion–extension cycles mapped linearly to 32 → 50.5 °C (paper §III-F)."""
    duration = frames / FPS
    times, values = [], []
    for _ in range(n):
        t, ts, vs = rng.uniform(0.5, 3.0), [0.0], [0.0]
        while t < duration:
            reach = rng.uniform(0.2, 1.0)
            flex, hold, extend = rng.uniform(1.5, 4.0), rng.uniform(0.0, 2.0), rng.uniform(1.5, 4.0)
            ts += [t, t + flex, t + flex + hold, t + flex + hold + extend]
            vs += [0.0, reach, reach, 0.0]
            t += flex + hold + extend + rng.uniform(0.5, 4.0)
        times.append(np.array(ts))
        values.append(np.array(vs))
    return BASELINE_C + (MAX_C - BASELINE_C) * _breakpoint_signal(times, values, frames)


def stimulus_programme(name: str, traits: SubjectTraits, frames: int, rng: np.random.Generator) -> np.ndarray:
    """The named programme for every subject; ``mixed`` is a BioVid block then a ROM block."""
    if name == "biovid":
        return biovid_programme(traits, frames, rng)
    if name == "rom":
        return range_of_motion_programme(traits.count, frames, rng)
    if name == "mixed":
        half = frames // 2
        return np.concatenate(
            [biovid_programme(traits, half, rng), range_of_motion_programme(traits.count, frames - half, rng)], axis=1
        )
    raise ValueError(f"unknown stimulus programme {name!r}; choose one of {PROGRAMMES}")


def perceived_pain(stimulus_c: np.ndarray, traits: SubjectTraits) -> np.ndarray:
    """Pain intensity (S, T), 0 below threshold − 0.5 °C, 1 at tolerance, accelerating between."""
    lo = traits.threshold_c[:, None] - 0.5
    span = traits.tolerance_c[:, None] - lo
    return np.clip((stimulus_c - lo) / span, 0.0, 1.2) ** PAIN_EXPONENT


def _delay(signal: np.ndarray, frames: np.ndarray) -> np.ndarray:
    """Shift each row right by its own number of frames, holding the first value."""
    out = np.empty_like(signal)
    for s, d in enumerate(frames):
        out[s, d:] = signal[s, : signal.shape[1] - d]
        out[s, :d] = signal[s, 0]
    return out


def _first_order(target: np.ndarray, tau_up_s: np.ndarray, tau_down_s: np.ndarray) -> np.ndarray:
    """Asymmetric first-order lag (S, T): rise with ``tau_up_s``, decay with ``tau_down_s``."""
    up = 1.0 - np.exp(-1.0 / (FPS * tau_up_s))
    down = 1.0 - np.exp(-1.0 / (FPS * tau_down_s))
    out = np.empty_like(target)
    y = target[:, 0].copy()
    for t in range(target.shape[1]):
        x = target[:, t]
        y += (x - y) * np.where(x > y, up, down)
        out[:, t] = y
    return out


def _ornstein_uhlenbeck(shape: tuple[int, int, int], tau_s: float, rng: np.random.Generator) -> np.ndarray:
    """Unit-variance smooth noise (S, T, K) with correlation time ``tau_s``."""
    a = np.exp(-1.0 / (FPS * tau_s))
    white = rng.standard_normal(shape) * np.sqrt(1.0 - a * a)
    out = np.empty(shape)
    y = rng.standard_normal((shape[0], shape[2]))
    for t in range(shape[1]):
        y = a * y + white[:, t]
        out[:, t] = y
    return out


def _trial_gains(pain: np.ndarray, spread: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A log-normal gain per stimulus episode (contiguous painful stretch), per frame (S, T)."""
    active = pain > 0
    onset = active & ~np.concatenate([np.zeros((len(pain), 1), bool), active[:, :-1]], axis=1)
    episode = np.cumsum(onset, axis=1)
    draws = rng.lognormal(0.0, 1.0, (len(pain), int(episode.max()) + 1)) ** spread[:, None]
    return np.take_along_axis(draws, episode, axis=1)


def _unit_vector(weights: dict[str, float]) -> np.ndarray:
    """Expression-channel vector (50,) from unit or channel names (bilateral units fill both sides)."""
    vec = np.zeros(facs.EXPRESSION_DIM)
    for name, value in weights.items():
        idx = [facs.channel_index(name)] if "_" in name else list(facs.au_indices(name))
        vec[idx] = value
    return vec


CLUSTER_VECTORS = np.stack([_unit_vector(c) for c in PAIN_CLUSTERS.values()])
EMOTION_VECTORS = np.stack([_unit_vector(EMOTION_PROTOTYPES[e]) for e in EMOTIONS])
AU43 = list(facs.au_indices("AU43"))
AU45 = list(facs.au_indices("AU45"))
AU26 = facs.channel_index("AU26")


def pain_drive(stimulus_c: np.ndarray, traits: SubjectTraits, rng: np.random.Generator) -> np.ndarray:
    """Facial pain drive (S, T): perceived pain, trial gain, latency, rise/decay, habituation."""
    pain = perceived_pain(stimulus_c, traits)
    pain = pain * _trial_gains(pain, traits.trial_spread, rng)
    lagged = _delay(pain, np.round(traits.latency_s * FPS).astype(int))
    smooth = _first_order(lagged, traits.tau_rise_s, traits.tau_decay_s)
    exposure = np.cumsum(smooth, axis=1) / FPS
    habituated = 1.0 - traits.habituation[:, None] * (1.0 - np.exp(-exposure / traits.habituation_scale_s[:, None]))
    return traits.gain[:, None] * habituated * smooth


def blinks(traits: SubjectTraits, frames: int, rng: np.random.Generator) -> np.ndarray:
    """AU45 lid closure (S, T): Poisson blink onsets at each subject's rate, one profile each."""
    onsets = rng.random((traits.count, frames)) < (traits.blink_per_min[:, None] / 60.0 / FPS)
    closure = np.zeros((traits.count, frames))
    for k, value in enumerate(BLINK_PROFILE):
        closure[:, k:] = np.maximum(closure[:, k:], onsets[:, : frames - k] * value)
    return closure


def face_response(
    stimulus_c: np.ndarray, traits: SubjectTraits, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Expression (S, T, 50) and jaw pose (S, T, 3, rad) of each subject answering its stimulus."""
    n, frames = stimulus_c.shape
    drive = pain_drive(stimulus_c, traits, rng)
    wobble = 1.0 + 0.15 * _ornstein_uhlenbeck((n, frames, len(PAIN_CLUSTERS)), 1.0, rng)
    cluster_drive = np.clip(drive[..., None] * traits.cluster_weight[:, None, :] * wobble, 0.0, None)
    expression = np.einsum("stk,kc->stc", cluster_drive, CLUSTER_VECTORS)

    mood = traits.emotion_strength[:, None] * (1.0 + 0.3 * _ornstein_uhlenbeck((n, frames, 1), 8.0, rng)[..., 0])
    expression += np.clip(mood, 0.0, None)[..., None] * EMOTION_VECTORS[traits.emotion][:, None, :]
    expression += traits.noise[:, None, None] * _ornstein_uhlenbeck((n, frames, facs.EXPRESSION_DIM), NOISE_TAU_S, rng)

    limit = facs.CHANNEL_MAX.astype(np.float64)
    expression = limit * np.tanh(np.clip(expression, 0.0, None) / limit)
    closure = np.clip(traits.eye_closure[:, None] * drive**2, 0.0, 1.0)
    expression[..., AU43] = np.maximum(expression[..., AU43], closure[..., None])
    expression[..., AU45] = np.maximum(expression[..., AU45], blinks(traits, frames, rng)[..., None])

    jaw = 0.01 * _ornstein_uhlenbeck((n, frames, facs.JAW_DIM), 1.0, rng)
    jaw[..., 0] = np.abs(jaw[..., 0]) + JAW_OPEN_PER_AU26 * expression[..., AU26]
    return expression.astype(np.float32), jaw.astype(np.float32)


def generate_world(config: SyntheticWorldConfig, progress: bool = True) -> PainDataset:
    """The data set for ``config``: deterministic in (seed, split); splits never share subjects."""
    rng = np.random.default_rng([config.seed, SPLITS.index(config.split)])
    traits = sample_traits(config.subjects, rng)
    recordings = []
    batch = 16
    starts = range(0, config.subjects, batch)
    for start in tqdm(starts, desc=f"synthetic {config.split} world", unit="batch", disable=not progress):
        part = traits.subset(np.arange(start, min(start + batch, config.subjects)))
        stimulus = stimulus_programme(config.programme, part, config.frames, rng)
        expression, jaw = face_response(stimulus, part, rng)
        pspi = facs.pspi(expression)
        for i in range(part.count):
            recordings.append(
                Recording(
                    subject=f"{config.split}-{config.seed}-{start + i:04d}",
                    stimulus_c=stimulus[i].astype(np.float32),
                    expression=expression[i],
                    jaw_pose=jaw[i],
                    expressiveness=float(pspi[i].mean()),
                    emotion=int(part.emotion[i]),
                    pspi=pspi[i],
                )
            )
    return PainDataset(recordings, BUILTIN_FACS.name, info={"synthetic": asdict(config)})
