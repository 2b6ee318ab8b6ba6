"""Fixed-clock playback of chunked generation: FramePlayer and GenerationWorker."""

import threading
import time

import numpy as np
import pytest

from paindiffusion_ros.model.realtime import FrameClock, FramePlayer, GenerationWorker, cosine_ease


def chunk(value, frames=4):
    return np.full((frames, 50), value, np.float32), np.full((frames, 3), value / 10, np.float32)


def test_plays_buffered_frames_in_order_then_eases_to_neutral():
    player = FramePlayer(50, 3, fps=25, ease_time=0.2)
    expression = np.arange(10, dtype=np.float32)[:, None] * np.ones((10, 50), np.float32)
    player.push(expression, np.zeros((10, 3), np.float32))
    played = [player.next_frame() for _ in range(10)]
    assert all(f.live for f in played)
    assert [f.expression[0] for f in played[player.ease_frames :]] == pytest.approx(list(range(player.ease_frames, 10)))
    eased = [player.next_frame() for _ in range(player.ease_frames + 2)]
    values = [f.expression[0] for f in eased]
    assert not any(f.live for f in eased)
    assert all(b <= a for a, b in zip(values, values[1:]))
    assert values[-1] == 0.0
    assert player.underruns == 1
    assert player.underrun_frames == len(eased)


def test_resuming_after_an_underrun_blends_instead_of_jumping():
    player = FramePlayer(50, 3, fps=25, ease_time=0.2)
    player.next_frame()
    player.push(*chunk(4.0, frames=20))
    values = [player.next_frame().expression[0] for _ in range(20)]
    assert values[0] < 4.0
    assert np.all(np.diff(values) >= 0)
    assert values[-1] == pytest.approx(4.0)


def test_rejects_chunks_of_the_wrong_shape():
    player = FramePlayer(50, 3)
    with pytest.raises(ValueError, match="values per frame"):
        player.push(np.zeros((4, 49)), np.zeros((4, 3)))
    with pytest.raises(ValueError, match="disagree"):
        player.push(np.zeros((4, 50)), np.zeros((5, 3)))


def test_cosine_ease_endpoints():
    assert cosine_ease(0.0) == 1.0
    assert cosine_ease(1.0) == pytest.approx(0.0)
    assert cosine_ease(2.0) == pytest.approx(0.0)


class SlowGenerator:
    horizon = 8

    def __init__(self, delay):
        self.delay = delay
        self.stimuli = []

    def advance(self, stimulus_c):
        time.sleep(self.delay)
        self.stimuli.append(stimulus_c.copy())
        value = float(stimulus_c[0])
        return type("Chunk", (), {"expression": np.full((8, 50), value, np.float32), "jaw_pose": np.zeros((8, 3), np.float32)})


def test_worker_keeps_buffer_near_low_water_and_feeds_latest_stimulus():
    player = FramePlayer(50, 3, fps=25)
    generator = SlowGenerator(delay=0.02)
    stimulus = [40.0]
    worker = GenerationWorker(lambda: generator, player, lambda: stimulus[0])
    worker.start()
    for tick in range(60):
        if tick == 30:
            stimulus[0] = 45.0
        player.next_frame()
        worker.poke()
        time.sleep(0.01)
    worker.stop()
    assert worker.error is None
    assert player.buffered <= worker.low_water + generator.horizon
    assert np.all(generator.stimuli[0] == 40.0) and generator.stimuli[0].shape == (8,)
    assert generator.stimuli[-1][0] == 45.0
    assert worker.chunks >= 3


def test_worker_reports_a_failing_load_and_the_player_stays_neutral():
    player = FramePlayer(50, 3)
    failed = threading.Event()

    def load():
        raise FileNotFoundError("no model at /nowhere")

    worker = GenerationWorker(load, player, lambda: 32.0, on_error=lambda error: failed.set())
    worker.start()
    assert failed.wait(5)
    worker.stop()
    assert isinstance(worker.error, FileNotFoundError)
    frame = player.next_frame()
    assert not frame.live and not frame.expression.any()


def test_frame_clock_emits_one_frame_per_punctual_tick():
    clock = FrameClock(25.0)
    emitted = [list(clock.due(0.04 * k + 0.003)) for k in range(5)]
    assert emitted == [[0], [1], [2], [3], [4]]
    assert clock.time_of(4) == pytest.approx(0.003 + 0.16)


def test_frame_clock_catches_up_a_late_tick_and_slips_a_long_stall():
    clock = FrameClock(25.0, max_catch_up=5)
    assert list(clock.due(0.0)) == [0]
    assert list(clock.due(0.121)) == [1, 2, 3]
    assert list(clock.due(0.16)) == [4]
    assert list(clock.due(2.0)) == [50]
    assert clock.slipped == 45
    assert list(clock.due(2.04)) == [51]
