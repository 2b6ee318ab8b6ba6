"""Build a human face in a child process, so that the node that shows it stays small.

Building the face (shaping the head, painting the skin) peaks at ~160 MB of temporary
arrays and asset tables; the allocator keeps that heap after they are freed, so a renderer
that built its face held ~460 MB RSS, one that loaded it from ``face_cache`` 250-300 MB
(the first start after an install or an upgrade always builds). The child builds the
face's arrays and writes them to a temporary ``.npz`` (``face_cache.write``); the parent
reads them as it would read its cache and the child's memory goes back with its exit.
The child ignores Ctrl-C (the terminal sends it to the whole process group: the parent
stops once the face is built) and dies with its parent (Linux ``PR_SET_PDEATHSIG``).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from ..session.signals import signal_on_parent_death
from . import face_cache
from .appearance import Appearance

LOG = logging.getLogger(__name__)
KEY = "child-build"
"""The key the child stores its arrays under (the file is the parent's, read once)."""


def human_arrays(appearance: Appearance) -> Optional[dict[str, np.ndarray]]:
    """``HumanFace(appearance).arrays()`` computed in a child process; None (one warning line
    with the child's last words) when the child fails: the caller builds in its own process
    then, which raises the real error (a missing asset install, say) where it is handled."""
    with tempfile.TemporaryDirectory(prefix="paindiffusion-face-") as directory:
        out = Path(directory) / "face.npz"
        command = [sys.executable, "-m", __name__, json.dumps(dataclasses.asdict(appearance)), str(out)]
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode != 0:
            last = (done.stderr.strip().splitlines() or ["no output"])[-1]
            LOG.warning("face build in a child process failed (exit %s: %s); building in this process", done.returncode, last)
            return None
        return face_cache.read(out, KEY)


def main(args: Sequence[str]) -> int:
    """The child: ``APPEARANCE_JSON OUT_NPZ``."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal_on_parent_death(signal.SIGKILL)
    from .human import HumanFace

    appearance = Appearance(**json.loads(args[0])).validate()
    return 0 if face_cache.write(Path(args[1]), KEY, HumanFace(appearance).arrays()) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
