"""``paindiffusion report BAG --out DIR``: the trainee assessment of a recorded session.

Reads a session bag (``paindiffusion demo``, the operator console's recording, or
``ros2 bag record`` of the project topics) and writes to DIR:

* ``timeline.png`` — elbow angle, heat stimulus (heat override shaded), PSPI with its pain
  episodes, and the trainee's rating beside PSPI mapped onto the NRS;
* ``lag.png`` and ``bland_altman.png`` — the cross-correlation against the trainee's
  delay and the Bland–Altman plot (only when the bag has ratings and PSPI);
* ``report.json`` — every number (``session/agreement.py`` defines them);
* ``report.html`` — one self-contained, printable page: the figures embedded, the
  agreement table, each episode, and how the numbers were computed.

All signals are aligned on the bag's receive times, as the session video is. A bag
without ``/trainee/rating`` messages still gives the timeline.
"""

from __future__ import annotations

import argparse
import base64
import dataclasses
import html
import json
import math
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Optional

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (backend must be chosen first)
import numpy as np  # noqa: E402
from rosbags.highlevel import AnyReader  # noqa: E402
from tqdm import tqdm  # noqa: E402

from ..face.facs import PSPI_MAX  # noqa: E402
from .agreement import NRS_MAX, Agreement, AgreementConfig, assess, find_episodes, pspi_to_nrs  # noqa: E402
from .rating import RATING_TOPIC, rating_value  # noqa: E402
from .video import NS_PER_S, joint_position  # noqa: E402

JOINT_NAME = "elbow_joint"
OVERRIDE_KEY = "override_c"
"""The stimulus mapper's ``/diagnostics`` key that tells whether the heat override is on."""
FIGURE_DPI = 110
BIAS_NEGLIGIBLE_NRS = 0.05
"""A mean difference smaller than this (NRS points) is reported as no bias."""


@dataclass(frozen=True)
class Signal:
    """Times (s from the bag's start, receive time) and values of one scalar stream."""

    times: np.ndarray
    values: np.ndarray

    def __len__(self) -> int:
        return len(self.times)


def _override(message: Any) -> float:
    """The heat override (°C) a stimulus-mapper diagnostics message reports; NaN for none, 0 for off."""
    for status in message.status:
        for item in status.values:
            if item.key == OVERRIDE_KEY:
                return 0.0 if item.value == "off" else float(item.value)
    return math.nan


READERS: dict[str, tuple[str, Callable[[Any], float]]] = {
    "/joint_states": ("angle", lambda m: math.degrees(joint_position(m, JOINT_NAME))),
    "/pain/stimulus": ("heat", lambda m: float(m.temperature)),
    "/pain/pspi": ("pspi", lambda m: float(m.data)),
    RATING_TOPIC: ("rating", rating_value),
    "/diagnostics": ("override", _override),
}
"""Topic → (signal name, value of one message)."""


@dataclass(frozen=True)
class Session:
    """The signals of one bag and what the report says about the bag itself."""

    bag: Path
    started: datetime
    seconds: float
    counts: dict[str, int]
    signals: dict[str, Signal]

    def has(self, name: str) -> bool:
        return len(self.signals[name]) > 0


def read_session(bag: Path, progress: bool = True) -> Session:
    """The report's signals from a rosbag2 directory; ValueError naming what is wrong with it."""
    bag = Path(bag)
    if not (bag / "metadata.yaml").is_file():
        raise ValueError(f"{bag} is not a rosbag2 directory (no metadata.yaml)")
    collected: dict[str, tuple[list[int], list[float]]] = {name: ([], []) for name, _ in READERS.values()}
    with AnyReader([bag]) as reader:
        start = reader.start_time
        connections = [c for c in reader.connections if c.topic in READERS]
        counts = {c.topic: c.msgcount for c in reader.connections}
        total = sum(c.msgcount for c in connections)
        messages = reader.messages(connections=connections)
        for connection, stamp, raw in tqdm(messages, total=total, desc="reading bag", unit="msg", disable=not progress):
            name, value = READERS[connection.topic]
            number = value(reader.deserialize(raw, connection.msgtype))
            if math.isfinite(number):
                collected[name][0].append(stamp)
                collected[name][1].append(number)
        seconds = reader.duration / NS_PER_S if total else 0.0
    signals = {}
    for name, (stamps, values) in collected.items():
        order = np.argsort(stamps, kind="stable")
        times = (np.asarray(stamps, dtype=np.int64)[order] - start) / NS_PER_S
        signals[name] = Signal(times, np.asarray(values, dtype=np.float64)[order])
    return Session(bag, datetime.fromtimestamp(start / NS_PER_S), seconds, counts, signals)


def override_spans(signal: Signal, end_s: float) -> list[tuple[float, float, float]]:
    """(start, end, °C) of each stretch in which the stimulus mapper reported a heat override."""
    spans: list[tuple[float, float, float]] = []
    for i, (t, value) in enumerate(zip(signal.times, signal.values)):
        until = float(signal.times[i + 1]) if i + 1 < len(signal) else end_s
        if value > 0:
            if spans and spans[-1][2] == value and math.isclose(spans[-1][1], t):
                spans[-1] = (spans[-1][0], until, value)
            else:
                spans.append((float(t), until, float(value)))
    return spans


def plot_timeline(session: Session, config: AgreementConfig, path: Path) -> None:
    """Angle, heat, PSPI with its episodes, and the rating against PSPI→NRS, on one time axis."""
    s = session.signals
    rows = 4 if session.has("rating") else 3
    fig, axes = plt.subplots(rows, 1, figsize=(10, 1.9 * rows + 0.6), sharex=True)
    axes[0].plot(s["angle"].times, s["angle"].values, color="tab:blue", linewidth=1)
    axes[0].set_ylabel("elbow (°)")
    axes[1].plot(s["heat"].times, s["heat"].values, color="tab:red", linewidth=1)
    axes[1].set_ylabel("heat (°C)")
    for start, end, value in override_spans(s["override"], session.seconds):
        axes[1].axvspan(start, end, color="gold", alpha=0.35, linewidth=0)
        axes[1].text(start, 0.95, f" override {value:.1f} °C", transform=axes[1].get_xaxis_transform(), va="top", fontsize=8)
    axes[2].plot(s["pspi"].times, s["pspi"].values, color="tab:green", linewidth=1)
    axes[2].axhline(config.episode_pspi, color="tab:green", linestyle=":", linewidth=0.8)
    for start, end, _ in find_episodes(s["pspi"].times, s["pspi"].values, config):
        for ax in axes[2:]:
            ax.axvspan(start, end, color="tab:green", alpha=0.12, linewidth=0)
    axes[2].set_ylabel("PSPI (0–16)")
    axes[2].set_ylim(0, max(PSPI_MAX / 2, float(s["pspi"].values.max(initial=0.0)) * 1.1))
    if session.has("rating"):
        ax = axes[3]
        ax.plot(s["pspi"].times, pspi_to_nrs(s["pspi"].values), color="tab:green", linewidth=1, alpha=0.7, label="face: PSPI → NRS")
        times = np.append(s["rating"].times, session.seconds)
        values = np.append(s["rating"].values, s["rating"].values[-1])
        ax.step(times, values, where="post", color="black", linewidth=1.4, label="trainee rating")
        ax.set_ylim(-0.3, NRS_MAX + 0.3)
        ax.set_ylabel("NRS (0–10)")
        ax.legend(loc="upper right", fontsize=8)
    axes[-1].set_xlabel("time (s) from the start of the recording; green bands: pain episodes of the face")
    axes[-1].set_xlim(0, max(session.seconds, 1e-3))
    for ax in axes:
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=FIGURE_DPI)
    plt.close(fig)


def plot_lag(agreement: Agreement, path: Path) -> None:
    """Correlation of the rating with the face against the trainee's delay."""
    fig, ax = plt.subplots(figsize=(5, 3.4))
    ax.plot(agreement.lags_s, agreement.lag_r, color="black", linewidth=1.2)
    ax.axvline(agreement.best_lag_s, color="tab:red", linestyle="--", linewidth=1)
    ax.annotate(f"{agreement.best_lag_s:+.1f} s, r = {agreement.best_lag_r:.2f}", (agreement.best_lag_s, agreement.best_lag_r),
                textcoords="offset points", xytext=(8, -16), fontsize=9, color="tab:red",
                bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.85, "pad": 1.5})
    ax.set_xlabel("trainee delay L (s)")
    ax.set_ylabel("r (PSPI(t), rating(t + L))")
    ax.set_title("cross-correlation", fontsize=10)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=FIGURE_DPI)
    plt.close(fig)


def plot_bland_altman(agreement: Agreement, path: Path) -> None:
    """Difference against mean of rating and PSPI→NRS, with the bias and 95 % limits of agreement."""
    ba = agreement.bland_altman
    lo, hi = ba.limits
    fig, ax = plt.subplots(figsize=(5, 3.4))
    ax.scatter(ba.means, ba.differences, s=5, alpha=0.35, color="tab:blue", linewidths=0)
    for value, style, label in ((ba.bias, "-", f"bias {ba.bias:+.2f}"), (lo, "--", f"−1.96 SD {lo:+.2f}"), (hi, "--", f"+1.96 SD {hi:+.2f}")):
        ax.axhline(value, color="tab:red", linestyle=style, linewidth=1)
        ax.text(1.0, value, f" {label}", transform=ax.get_yaxis_transform(), va="center", fontsize=8, color="tab:red")
    ax.axhline(0, color="grey", linewidth=0.6)
    ax.set_xlabel("mean of rating and PSPI → NRS")
    ax.set_ylabel("rating − PSPI → NRS")
    ax.set_title(f"Bland–Altman (at the {agreement.best_lag_s:+.1f} s delay)", fontsize=10)
    ax.grid(alpha=0.3)
    fig.tight_layout(rect=(0, 0, 0.83, 1))
    fig.savefig(path, dpi=FIGURE_DPI)
    plt.close(fig)


def summary(agreement: Optional[Agreement], reason: str) -> str:
    """One paragraph in words: how closely, how late, which way, how many episodes."""
    if agreement is None:
        return reason
    ba = agreement.bland_altman
    lo, hi = ba.limits
    if abs(ba.bias) < BIAS_NEGLIGIBLE_NRS:
        direction = f"rated its pain without bias (mean difference {ba.bias:+.2f} NRS; "
    else:
        direction = f"{'under' if ba.bias < 0 else 'over'}-estimated its pain by {abs(ba.bias):.1f} NRS points on average ("
    text = (
        f"The trainee's ratings followed the face with r = {agreement.best_lag_r:.2f} at a delay of {agreement.best_lag_s:.1f} s "
        f"(r = {agreement.pearson_r:.2f} as rated) and {direction}95 % limits of agreement {lo:+.1f} to {hi:+.1f})."
    )
    if agreement.lag_at_limit:
        text += " The best delay is the edge of the search range: the trainee may be slower still (raise --max-lag-s)."
    assessable = agreement.assessable
    if assessable:
        latencies = [e.latency_s for e in agreement.detected]
        text += f" {len(agreement.detected)} of {len(assessable)} pain episodes were detected"
        text += f", on average {np.mean(latencies):.1f} s after their onset." if latencies else "."
    return text


def _figure(path: Path, alt: str) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f'<img src="data:image/png;base64,{data}" alt="{html.escape(alt)}">'


def _number(value: Optional[float], digits: int = 2, unit: str = "", signed: bool = False) -> str:
    if value is None or not math.isfinite(value):
        return "–"
    return f"{value:+.{digits}f}{unit}" if signed else f"{value:.{digits}f}{unit}"


STYLE = """
body { font-family: "DejaVu Sans", Helvetica, Arial, sans-serif; margin: 2em auto; max-width: 1100px; color: #222; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; } h2 { font-size: 1.2em; border-bottom: 1px solid #ccc; margin-top: 1.6em; }
.meta { color: #555; } .summary { font-size: 1.1em; background: #f4f7fb; padding: 0.8em 1em; border-left: 4px solid #2f6db5; }
table { border-collapse: collapse; margin: 0.6em 0; } td, th { border: 1px solid #ccc; padding: 0.25em 0.7em; text-align: left; }
th { background: #f0f0f0; } td.n { text-align: right; font-variant-numeric: tabular-nums; }
img { max-width: 100%; } .pair { display: flex; gap: 1em; flex-wrap: wrap; } .pair img { max-width: 49%; }
.notes { font-size: 0.9em; color: #444; }
@page { size: A4; margin: 14mm; }
@media print { body { margin: 0; max-width: none; font-size: 10pt; } h2 { break-after: avoid; } img, table { break-inside: avoid; } }
"""


def render_html(session: Session, agreement: Optional[Agreement], reason: str, config: AgreementConfig, figures: dict[str, Path]) -> str:
    """The self-contained report page."""
    e = html.escape
    rows = "".join(f"<tr><td>{e(t)}</td><td class=n>{n}</td></tr>" for t, n in sorted(session.counts.items()))
    parts = [
        "<!DOCTYPE html><html lang=en><head><meta charset=utf-8><link rel=icon href=\"data:,\">",
        f"<title>Training session report — {e(session.bag.name)}</title><style>{STYLE}</style></head><body>",
        "<h1>Training session report</h1>",
        f"<p class=meta>Session <b>{e(session.bag.name)}</b>, recorded {session.started:%Y-%m-%d %H:%M:%S}, "
        f"{session.seconds:.1f} s; {len(session.signals['rating'])} trainee ratings.</p>",
        f"<p class=summary>{e(summary(agreement, reason))}</p>",
        "<h2>Timeline</h2>",
        _figure(figures["timeline"], "session timeline"),
    ]
    if agreement is not None:
        ba = agreement.bland_altman
        lo, hi = ba.limits
        table = [
            ("Pearson r (as rated, lag 0)", _number(agreement.pearson_r)),
            ("Spearman ρ (as rated, lag 0)", _number(agreement.spearman_rho)),
            ("Trainee delay maximising the cross-correlation", _number(agreement.best_lag_s, 1, " s")),
            ("Pearson r at that delay", _number(agreement.best_lag_r)),
            ("Mean bias, rating − PSPI→NRS (at that delay)", _number(ba.bias, 2, " NRS", signed=True)),
            ("95 % limits of agreement", f"{_number(lo, 2, signed=True)} to {_number(hi, 2, signed=True)} NRS"),
            ("Pain episodes detected", f"{len(agreement.detected)} of {len(agreement.assessable)}"),
            ("Compared", f"{agreement.seconds:.1f} s ({agreement.samples} points at {config.grid_hz:g} Hz)"),
        ]
        parts += [
            "<h2>Agreement with the simulated pain</h2><table>",
            *(f"<tr><th>{e(k)}</th><td class=n>{e(v)}</td></tr>" for k, v in table),
            "</table><div class=pair>",
            _figure(figures["lag"], "cross-correlation against delay"),
            _figure(figures["bland_altman"], "Bland-Altman plot"),
            "</div><h2>Pain episodes</h2>",
            "<table><tr><th>#</th><th>onset (s)</th><th>end (s)</th><th>peak PSPI</th><th>rating at onset</th>"
            "<th>peak rating</th><th>detected</th><th>latency (s)</th></tr>",
        ]
        for i, ep in enumerate(agreement.episodes, 1):
            detected = {None: "not rated yet", True: "yes", False: "no"}[ep.detected]
            parts.append(
                f"<tr><td>{i}</td><td class=n>{ep.onset_s:.1f}</td><td class=n>{ep.end_s:.1f}</td><td class=n>{ep.peak_pspi:.1f}</td>"
                f"<td class=n>{_number(ep.rating_at_onset, 1)}</td><td class=n>{_number(ep.peak_rating, 1)}</td>"
                f"<td>{detected}</td><td class=n>{_number(ep.latency_s, 1)}</td></tr>"
            )
        parts.append("</table>" if agreement.episodes else "</table><p>No pain episode in this session.</p>")
    parts += [
        "<h2>How the numbers are computed</h2><ul class=notes>",
        "<li>PSPI (0–16) is mapped linearly onto the 0–10 NRS (PSPI × 10/16); negative bias = the trainee under-estimates.</li>",
        f"<li>Both signals on a {config.grid_hz:g} Hz grid of bag receive times: PSPI interpolated, the rating held until it changes.</li>",
        f"<li>Delay L searched in ±{config.max_lag_s:g} s: r(L) = corr(PSPI(t), rating(t + L)); Bland–Altman at the best L.</li>",
        f"<li>Episode: PSPI ≥ {config.episode_pspi:g} for ≥ {config.min_episode_s:g} s (gaps &lt; {config.merge_gap_s:g} s merged); "
        f"its onset is where the face's climb to it began (PSPI {config.rise_nrs:g} NRS above its lowest value in the "
        f"{config.onset_window_s:g} s before). Detected when the rating rises ≥ {config.rise_nrs:g} NRS above its value at the onset "
        f"before the episode's end + {config.grace_s:g} s; latency = that rise's time after the onset.</li>",
        "</ul><h2>Recorded topics</h2><table><tr><th>topic</th><th>messages</th></tr>",
        rows,
        "</table></body></html>",
    ]
    return "\n".join(parts)


def write_report(bag: Path, out: Path, config: Optional[AgreementConfig] = None, progress: bool = True) -> dict:
    """Write the report files for ``bag`` into ``out``; returns the contents of report.json."""
    config = config or AgreementConfig()
    session = read_session(bag, progress)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    figures = {"timeline": out / "timeline.png"}
    plot_timeline(session, config, figures["timeline"])
    agreement, reason = None, ""
    if not session.has("rating"):
        reason = f"This bag has no trainee ratings ({RATING_TOPIC}): only the session timeline is shown."
    elif not session.has("pspi"):
        reason = "This bag has no PSPI (/pain/pspi; a face binding without a PSPI read-out): the ratings cannot be compared."
    else:
        try:
            agreement = assess(session.signals["pspi"].times, session.signals["pspi"].values,
                               session.signals["rating"].times, session.signals["rating"].values, config)
        except ValueError as error:
            reason = f"The ratings cannot be compared with the face: {error}."
    for stale in ("lag.png", "bland_altman.png"):
        (out / stale).unlink(missing_ok=True)
    if agreement is not None:
        figures["lag"], figures["bland_altman"] = out / "lag.png", out / "bland_altman.png"
        plot_lag(agreement, figures["lag"])
        plot_bland_altman(agreement, figures["bland_altman"])
    result = {
        "bag": str(session.bag),
        "started": session.started.isoformat(timespec="seconds"),
        "seconds": session.seconds,
        "ratings": len(session.signals["rating"]),
        "summary": summary(agreement, reason),
        "config": dataclasses.asdict(config),
        "agreement": agreement.to_dict() if agreement is not None else None,
    }
    (out / "report.json").write_text(json.dumps(result, indent=2, allow_nan=False, default=_json_value))
    (out / "report.html").write_text(render_html(session, agreement, reason, config, figures))
    return result


def _json_value(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``paindiffusion report``."""
    parser.add_argument("bag", type=Path, help="session bag directory (rosbag2, MCAP or sqlite3)")
    parser.add_argument("--out", type=Path, default=None, help="output directory (default: BAG-report beside the bag)")
    for item in dataclasses.fields(AgreementConfig):
        parser.add_argument("--" + item.name.replace("_", "-"), type=float, default=item.default, help=item.metadata["help"])


def run(args: argparse.Namespace) -> int:
    """Write the report and print its summary and location."""
    config = AgreementConfig(**{f.name: getattr(args, f.name) for f in dataclasses.fields(AgreementConfig)})
    bag = Path(args.bag)
    out = args.out or bag.with_name(bag.name + "-report")
    result = write_report(bag, out, config)
    print(result["summary"])
    print(f"report: {Path(out) / 'report.html'}")
    return 0
