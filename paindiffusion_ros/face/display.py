"""The bench-screen window: OpenCV fullscreen or windowed, or headless (frames accepted, nothing shown)."""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

MODES = ("fullscreen", "windowed", "headless")


@dataclass(frozen=True)
class DisplayConfig:
    """How the face is shown on the bench screen."""

    mode: str = field(default="windowed", metadata={"help": "window mode", "choices": MODES})
    title: str = field(default="paindiffusion", metadata={"help": "window title"})


class DisplayError(RuntimeError):
    """The OpenCV build or the session cannot open a window."""


class Display:
    """Show RGB frames; ``show`` returns False once the user closed the window or pressed q/Esc."""

    def __init__(self, config: DisplayConfig = DisplayConfig()) -> None:
        if config.mode not in MODES:
            raise ValueError(f"unknown display mode {config.mode!r}; choose one of {', '.join(MODES)}")
        self.config = config
        self.frames = 0
        self._open = config.mode != "headless"
        if self._open:
            try:
                cv2.namedWindow(config.title, cv2.WINDOW_NORMAL)
                if config.mode == "fullscreen":
                    cv2.setWindowProperty(config.title, cv2.WND_PROP_FULLSCREEN, cv2.WINDOW_FULLSCREEN)
            except cv2.error as error:
                raise DisplayError(
                    f"cannot open a {config.mode} window ({error.err}); install opencv-python (not -headless) "
                    "and run with a display, or use mode 'headless'") from None

    def show(self, rgb: np.ndarray) -> bool:
        """Display one (H,W,3) uint8 RGB frame; False when the window is gone or q/Esc was pressed."""
        frame = np.asarray(rgb)
        if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
            raise ValueError(f"expected an (H,W,3) uint8 RGB frame, got {frame.shape} {frame.dtype}")
        self.frames += 1
        if not self._open:
            return True
        cv2.imshow(self.config.title, np.ascontiguousarray(frame[:, :, ::-1]))
        key = cv2.waitKey(1) & 0xFF
        visible = cv2.getWindowProperty(self.config.title, cv2.WND_PROP_VISIBLE) >= 1
        if key in (ord("q"), 27) or not visible:
            self.close()
        return self._open

    def close(self) -> None:
        """Close the window (idempotent)."""
        if self._open:
            self._open = False
            cv2.destroyWindow(self.config.title)

    def __enter__(self) -> "Display":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
