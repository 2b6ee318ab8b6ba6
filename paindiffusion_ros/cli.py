"""The ``paindiffusion`` command.

Each sub-command lives in the module that owns its behaviour; that module exposes
``add_arguments(parser)`` and ``run(args) -> int``. Modules load only when their
command is chosen, so ``paindiffusion --help`` stays fast and one command's heavy
imports never slow another. A user error (bad option value, missing file) is one line
``paindiffusion COMMAND: reason`` on stderr and exit status 2, like an argparse error.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import Optional, Sequence

COMMANDS: dict[str, tuple[str, str]] = {
    "demo": ("paindiffusion_ros.session.demo", "run the whole node graph on a simulated elbow and record it"),
    "generate": ("paindiffusion_ros.model.generate_command", "generate face parameters for a stimulus CSV"),
    "export": ("paindiffusion_ros.model.export", "export the guided denoiser step to ONNX"),
    "import-official": ("paindiffusion_ros.model.official_import", "convert the authors' published checkpoint into a model directory"),
    "bench": ("paindiffusion_ros.model.bench_command", "measure the generator's real-time factor"),
    "train": ("paindiffusion_ros.model.train", "train a model on the synthetic world or BioVid features"),
    "eval": ("paindiffusion_ros.eval.report", "evaluate a model against the baselines (paper Table I)"),
    "render": ("paindiffusion_ros.face.render_command", "render generated parameters to an mp4"),
    "report": ("paindiffusion_ros.session.report", "assess a trainee's pain ratings in a recorded session (report.html)"),
}


USAGE_ERROR = 2
USER_ERRORS = (ValueError, FileNotFoundError, NotADirectoryError, IsADirectoryError, PermissionError)
"""What a command raises for bad input: the project's input errors (``CheckpointError``,
``FlameError``, ``StimulusCSVError``, ``DatasetError``, settings out of range) are
ValueErrors. Any other exception is a bug and keeps its traceback."""


def build_parser() -> argparse.ArgumentParser:
    """Top-level parser listing the sub-commands (their own options load lazily)."""
    parser = argparse.ArgumentParser(
        prog="paindiffusion",
        description="A face that reacts to pain for a robotic patient simulator.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="commands:\n" + "\n".join(f"  {name:<15} {text}" for name, (_, text) in COMMANDS.items()),
    )
    parser.add_argument("command", choices=sorted(COMMANDS), metavar="command", help="one of the commands below")
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Dispatch ``paindiffusion COMMAND [options]`` to the owning module."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] not in COMMANDS:
        build_parser().parse_args(args[:1])
        return 2
    name, rest = args[0], args[1:]
    module_name, text = COMMANDS[name]
    module = importlib.import_module(module_name)
    parser = argparse.ArgumentParser(prog=f"paindiffusion {name}", description=text)
    module.add_arguments(parser)
    options = parser.parse_args(rest)
    try:
        return int(module.run(options) or 0)
    except USER_ERRORS as error:
        return user_error(name, str(error) or type(error).__name__)
    except SystemExit as stop:
        if isinstance(stop.code, str):  # a command's own ``raise SystemExit("reason")``
            return user_error(name, stop.code)
        raise


def user_error(command: str, reason: str) -> int:
    """Print ``paindiffusion COMMAND: reason`` to stderr; the usage-error status."""
    print(f"paindiffusion {command}: {reason}", file=sys.stderr)
    return USAGE_ERROR


if __name__ == "__main__":
    sys.exit(main())
