"""Run every ``benchmarks/bench_*.py`` and collect their numbers into one report.

Each benchmark runs as its own process from the repository root (so one cannot
disturb another's timings) with ``PAINDIFFUSION_BENCH_JSON`` set to a file it may
write its results to. The runner also picks up JSON that a benchmark writes
elsewhere in the repository during its run, or prints as a line on stdout. The
report — ``runs/bench/report.json`` (everything) and ``report.md`` (the numbers,
flattened) — says for each benchmark whether it ran, how long it took and what
it measured. Exit status 1 when any benchmark failed.

    python benchmarks/run_all.py [--only elbow render] [--out runs/bench] [--timeout 900]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterator, Optional, Sequence

from tqdm import tqdm

ROOT = Path(__file__).resolve().parent.parent
SKIP_DIRS = {".git", ".venv", "__pycache__", ".pytest_cache", "node_modules"}
ENV_JSON = "PAINDIFFUSION_BENCH_JSON"


@dataclass
class BenchResult:
    """Outcome of one benchmark script."""

    name: str
    script: str
    returncode: Optional[int]
    seconds: float
    results: dict[str, Any] = field(default_factory=dict)
    stdout_tail: list[str] = field(default_factory=list)
    stderr_tail: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.returncode == 0


def discover(directory: Path, only: Sequence[str] = ()) -> list[Path]:
    """``bench_*.py`` scripts in ``directory``, optionally only those named in ``only``."""
    scripts = sorted(directory.glob("bench_*.py"))
    if only:
        wanted = {name.removeprefix("bench_").removesuffix(".py") for name in only}
        unknown = wanted - {bench_name(s) for s in scripts}
        if unknown:
            raise SystemExit(f"no benchmark named {', '.join(sorted(unknown))} in {directory}")
        scripts = [s for s in scripts if bench_name(s) in wanted]
    return scripts


def bench_name(script: Path) -> str:
    return script.stem.removeprefix("bench_")


def json_files(root: Path) -> dict[Path, float]:
    """Every ``*.json`` under ``root`` (outside VCS/venv folders) with its mtime."""
    found: dict[Path, float] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d not in SKIP_DIRS]
        for filename in filenames:
            if filename.endswith(".json"):
                path = Path(dirpath) / filename
                found[path] = path.stat().st_mtime
    return found


def json_lines(text: str) -> Iterator[Any]:
    """Values of the stdout lines that are JSON objects."""
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("{") and line.endswith("}"):
            try:
                yield json.loads(line)
            except json.JSONDecodeError:
                continue


def as_text(output: bytes | str | None) -> str:
    """Captured output as text (a timed-out run may hand back bytes)."""
    return output.decode(errors="replace") if isinstance(output, bytes) else output or ""


def load_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as error:
        return {"unreadable": f"{path}: {error}"}


def run_one(script: Path, out_dir: Path, timeout: float) -> BenchResult:
    """Run one benchmark and gather what it reported."""
    own_json = out_dir / f"{bench_name(script)}.json"
    own_json.unlink(missing_ok=True)
    before = json_files(ROOT)
    env = dict(os.environ, **{ENV_JSON: str(own_json)})
    start = time.perf_counter()
    try:
        done = subprocess.run(
            [sys.executable, str(script)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout
        )
        returncode, stdout, stderr = done.returncode, done.stdout, done.stderr
    except subprocess.TimeoutExpired as expired:
        returncode, stdout, stderr = None, as_text(expired.stdout), f"timed out after {timeout:g} s"
    seconds = time.perf_counter() - start
    results: dict[str, Any] = {}
    if own_json.exists():
        results[own_json.name] = load_json(own_json)
    for path, mtime in sorted(json_files(ROOT).items()):
        if path != own_json and path.parent != out_dir and before.get(path) != mtime:
            results[str(path.relative_to(ROOT))] = load_json(path)
    for index, value in enumerate(json_lines(stdout)):
        results[f"stdout[{index}]"] = value
    return BenchResult(
        name=bench_name(script),
        script=str(script.relative_to(ROOT)) if script.is_relative_to(ROOT) else str(script),
        returncode=returncode,
        seconds=round(seconds, 2),
        results=results,
        stdout_tail=stdout.splitlines()[-25:],
        stderr_tail=stderr.splitlines()[-15:],
    )


def numbers(value: Any, prefix: str = "") -> Iterator[tuple[str, float]]:
    """Flatten nested JSON to ``(dotted.key, number)`` pairs."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from numbers(item, f"{prefix}.{key}" if prefix else str(key))
    elif isinstance(value, list) and len(value) <= 16:
        for index, item in enumerate(value):
            yield from numbers(item, f"{prefix}[{index}]")
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        yield prefix, value


def markdown(results: Sequence[BenchResult], machine: str) -> str:
    """The human-readable report: status per benchmark, then its numbers."""
    lines = [f"# Benchmark report ({machine})", "", "| benchmark | status | seconds |", "|---|---|---|"]
    for r in results:
        status = "ok" if r.ok else ("timed out" if r.returncode is None else f"failed ({r.returncode})")
        lines.append(f"| {r.name} | {status} | {r.seconds:g} |")
    for r in results:
        lines += ["", f"## {r.name}", ""]
        flat = [(k, v) for source in r.results.values() for k, v in numbers(source)]
        if flat:
            lines += ["| measure | value |", "|---|---|"] + [f"| {k} | {v:.6g} |" for k, v in flat]
        else:
            lines += ["```", *r.stdout_tail, "```"]
        if not r.ok:
            lines += ["", "stderr:", "```", *r.stderr_tail, "```"]
    return "\n".join(lines) + "\n"


def machine_description() -> str:
    return f"{os.cpu_count()} CPUs, Python {sys.version.split()[0]}, {sys.platform}"


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", default=(), help="benchmark names (e.g. elbow render) to run")
    parser.add_argument("--out", type=Path, default=ROOT / "runs" / "bench", help="report directory")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds allowed per benchmark")
    parser.add_argument("--dir", type=Path, default=ROOT / "benchmarks", help="where the bench_*.py scripts are")
    args = parser.parse_args(argv)
    scripts = discover(args.dir, args.only)
    if not scripts:
        print(f"no bench_*.py scripts in {args.dir}")
        return 1
    args.out.mkdir(parents=True, exist_ok=True)
    results = []
    for script in tqdm(scripts, desc="benchmarks", unit="bench"):
        result = run_one(script, args.out.resolve(), args.timeout)
        tqdm.write(f"{result.name}: {'ok' if result.ok else 'FAILED'} in {result.seconds:g} s")
        results.append(result)
    machine = machine_description()
    report = {"machine": machine, "benchmarks": [asdict(r) for r in results]}
    (args.out / "report.json").write_text(json.dumps(report, indent=2, default=str))
    (args.out / "report.md").write_text(markdown(results, machine))
    print(markdown(results, machine))
    print(f"report: {args.out / 'report.md'}")
    return 0 if all(r.ok for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
