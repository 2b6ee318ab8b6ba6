"""``benchmarks/run_all.py`` runs every bench script and collects what each reported."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def load_runner():
    spec = importlib.util.spec_from_file_location("run_all", ROOT / "benchmarks" / "run_all.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["run_all"] = module  # dataclasses resolve annotations through sys.modules
    spec.loader.exec_module(module)
    return module


SCRIPTS = {
    "bench_envjson.py": (
        "import json, os\n"
        "json.dump({'median_ms': 1.5, 'nested': {'ratio': 2}}, open(os.environ['PAINDIFFUSION_BENCH_JSON'], 'w'))\n"
        "print('median 1.5 ms')\n"
    ),
    "bench_stdout.py": "import json\nprint('warming up')\nprint(json.dumps({'fps': 25.0, 'label': 'x'}))\n",
    "bench_broken.py": "import sys\nprint('half way')\nsys.exit('cannot open device')\n",
}


def test_collects_json_and_reports_failures(tmp_path):
    runner = load_runner()
    bench_dir = tmp_path / "benchmarks"
    bench_dir.mkdir()
    for name, text in SCRIPTS.items():
        (bench_dir / name).write_text(text)
    (bench_dir / "helper.py").write_text("raise SystemExit('not a benchmark')\n")
    out = tmp_path / "report"
    status = runner.main(["--dir", str(bench_dir), "--out", str(out), "--timeout", "60"])
    assert status == 1  # one benchmark failed
    report = json.loads((out / "report.json").read_text())
    by_name = {b["name"]: b for b in report["benchmarks"]}
    assert set(by_name) == {"envjson", "stdout", "broken"}
    assert by_name["envjson"]["returncode"] == 0
    assert by_name["envjson"]["results"]["envjson.json"]["nested"]["ratio"] == 2
    assert by_name["stdout"]["results"]["stdout[0]"] == {"fps": 25.0, "label": "x"}
    assert by_name["broken"]["returncode"] == 1
    assert "cannot open device" in by_name["broken"]["stderr_tail"][-1]
    text = (out / "report.md").read_text()
    assert "| envjson | ok |" in text and "| broken | failed (1) |" in text
    assert "| nested.ratio | 2 |" in text and "| fps | 25 |" in text

    only = runner.main(["--dir", str(bench_dir), "--out", str(out), "--only", "stdout"])
    assert only == 0
    assert [b["name"] for b in json.loads((out / "report.json").read_text())["benchmarks"]] == ["stdout"]


def test_flattening_numbers_skips_text_and_booleans():
    runner = load_runner()
    flat = dict(runner.numbers({"a": {"b": 1, "c": "x", "d": True}, "e": [1.5, {"f": 2}]}))
    assert flat == {"a.b": 1, "e[0]": 1.5, "e[1].f": 2}
