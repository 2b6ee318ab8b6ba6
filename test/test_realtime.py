"""Fixed-clock playback of chunked generation: FramePlayer and GenerationWorker."""

import threading
import time

import numpy as np
import pytest

from paindiffusion_ros.model.realtime import (
    Frame,
    FrameClock,
    FramePlayer,
    GenerationWorker,
    RollingSamples,
    StimulusFeed,
    StreamFollower,
    cosine_ease,
)


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


def test_a_chunk_pushed_at_an_index_replaces_those_frames_and_skips_played_ones():
    player = FramePlayer(50, 3, fps=25, ease_time=0.04)
    player.push(*chunk(1.0, frames=8))
    assert [player.next_frame().expression[0] for _ in range(3)] == [1.0, 1.0, 1.0]
    assert player.next_index == 3
    player.push(*chunk(2.0, frames=4), start=2, stimulus_seq=7, stimulus_c=45.0)
    assert player.buffered == 5, "frame 2 was already played; frames 3-5 are replaced, 6-7 kept"
    played = [player.next_frame() for _ in range(6)]
    assert [f.expression[0] for f in played[:5]] == [2.0, 2.0, 2.0, 1.0, 1.0]
    assert [(f.stimulus_seq, f.stimulus_c) for f in played[:3]] == [(7, 45.0)] * 3
    assert not played[5].live
    player.push(*chunk(3.0, frames=4))
    assert player.next_index == 8, "an underrun does not use up frame indices"


class FakeGenerator:
    """A chunk generator whose frames carry the stimulus they were made with and whose
    state is a counter of advances (so restoring a snapshot is visible)."""

    horizon = 4

    def __init__(self, delay=0.0):
        self.delay = delay
        self.advances = 0
        self.calls = []
        self.updates = []

    def snapshot(self):
        return self.advances

    def restore(self, snapshot):
        self.advances = snapshot

    def update(self, **changes):
        self.updates.append(changes)

    def advance(self, stimulus_c):
        time.sleep(self.delay)
        self.calls.append((self.advances, float(stimulus_c[0])))
        self.advances += 1
        value = float(stimulus_c[0])
        return type("Chunk", (), {"expression": np.full((4, 50), value, np.float32), "jaw_pose": np.zeros((4, 3), np.float32)})


def run_ticks(worker, player, ticks, period=0.01):
    """Play ``ticks`` frames, waking the worker each tick as the node's clock does."""
    for _ in range(ticks):
        player.next_frame()
        worker.poke()
        time.sleep(period)


def wait_for(condition, timeout=30.0):
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.005)
    return condition()


def test_worker_keeps_the_queue_near_low_water_one_chunk_at_a_time():
    player, feed = FramePlayer(50, 3, fps=25), StimulusFeed(32.0, timeout_s=60.0)
    generator = FakeGenerator(delay=0.002)
    worker = GenerationWorker(lambda: generator, player, feed, margin_s=0.2, replan=False)
    worker.start()
    try:
        assert wait_for(lambda: player.buffered > worker.low_water)
        run_ticks(worker, player, 40)
        assert wait_for(lambda: player.buffered > worker.low_water)
    finally:
        assert worker.stop()
    assert worker.error is None
    assert player.buffered <= worker.low_water + generator.horizon
    assert [advance for advance, _ in generator.calls] == list(range(len(generator.calls))), "no re-plans without a change"
    assert player.underruns == 0


def test_a_new_stimulus_replans_the_queued_chunks_from_their_saved_state():
    player, feed = FramePlayer(50, 3, fps=25, ease_time=0.04), StimulusFeed(32.0, timeout_s=60.0, threshold_c=0.1)
    generator = FakeGenerator()
    worker = GenerationWorker(lambda: generator, player, feed, margin_s=0.2)
    feed.receive(40.0, time.monotonic())
    worker.start()
    try:
        assert wait_for(lambda: player.buffered > worker.low_water)
        queued = player.buffered
        before = generator.advances
        first_unplayed = player.next_index
        feed.receive(45.0, time.monotonic())
        worker.poke()
        assert wait_for(lambda: worker.replans == 1 and len(generator.calls) >= before + -(-queued // generator.horizon))
    finally:
        assert worker.stop()
    assert generator.calls[before][1] == 45.0
    assert generator.calls[before][0] == first_unplayed // generator.horizon, "restored to the state before the first queued chunk"
    frames = [player.next_frame() for _ in range(queued)]
    assert {f.expression[0] for f in frames} == {45.0}, "nothing was played: every queued frame is made again"
    assert {f.stimulus_seq for f in frames} == {2}


def test_a_change_within_the_threshold_does_not_replan():
    player, feed = FramePlayer(50, 3, fps=25), StimulusFeed(32.0, timeout_s=60.0, threshold_c=0.5)
    generator = FakeGenerator()
    worker = GenerationWorker(lambda: generator, player, feed)
    feed.receive(40.0, time.monotonic())
    worker.start()
    try:
        assert wait_for(lambda: player.buffered > worker.low_water)
        feed.receive(40.3, time.monotonic())
        frame = player.next_frame()
        assert (frame.stimulus_seq, frame.stimulus_c) == (1, 40.0)
        feed.served(frame, time.monotonic())
        assert len(feed.latency) == 1, "a value within the threshold is served by the frames already queued"
        run_ticks(worker, player, 10)
    finally:
        assert worker.stop()
    assert worker.replans == 0


def test_a_runtime_setting_replans_the_queue_with_it():
    player, feed = FramePlayer(50, 3, fps=25), StimulusFeed(32.0, timeout_s=60.0)
    generator = FakeGenerator()
    worker = GenerationWorker(lambda: generator, player, feed)
    worker.start()
    try:
        assert wait_for(lambda: player.buffered > worker.low_water)
        worker.update(expressiveness=3.0)
        assert wait_for(lambda: worker.replans == 1)
    finally:
        assert worker.stop()
    assert generator.updates == [{"expressiveness": 3.0}]


def test_stimulus_feed_falls_back_to_the_baseline_and_ignores_startup_messages():
    feed = StimulusFeed(32.0, timeout_s=1.0)
    assert feed.latest(0.0).value == 32.0 and feed.latest(0.0).seq == 0
    feed.receive(44.0, 10.0)
    assert feed.latest(10.5).value == 44.0 and feed.latest(10.5).seq == 1
    assert feed.latest(11.5).value == 32.0
    feed.forget_pending()
    live = Frame(np.zeros(50), np.zeros(3), True, stimulus_seq=1, stimulus_c=44.0)
    feed.served(live, 12.0)
    assert len(feed.latency) == 0
    feed.receive(45.0, 12.0)
    feed.served(Frame(np.zeros(50), np.zeros(3), False), 12.1)
    feed.served(live, 12.2)
    assert len(feed.latency) == 0, "neither a neutral frame nor one made with an older, different stimulus serves it"
    feed.served(Frame(np.zeros(50), np.zeros(3), True, stimulus_seq=2, stimulus_c=45.0), 12.25)
    assert feed.latency.percentiles(12.25, 50.0) == [pytest.approx(0.25)]


def test_rolling_samples_keep_only_the_window():
    samples = RollingSamples(window_s=10.0)
    for t in range(30):
        samples.add(float(t), float(t))
    assert len(samples) == 11
    assert samples.percentiles(29.0, 0.0, 100.0) == [19.0, 29.0]
    assert samples.percentiles(100.0, 50.0) == [pytest.approx(float("nan"), nan_ok=True)]


def test_worker_reports_a_failing_load_and_the_player_stays_neutral():
    player = FramePlayer(50, 3)
    failed = threading.Event()

    def load():
        raise FileNotFoundError("no model at /nowhere")

    worker = GenerationWorker(load, player, StimulusFeed(32.0, 1.0), on_error=lambda error: failed.set())
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


def test_frame_clock_reports_the_lateness_of_its_frames():
    clock = FrameClock(25.0, max_catch_up=5)
    for k in range(10):
        clock.due(0.04 * k + (0.002 if k == 5 else 0.0))
    assert clock.lateness.percentiles(0.4, 50.0, 100.0) == [pytest.approx(0.0, abs=1e-9), pytest.approx(0.002)]


def test_a_silent_stream_eases_to_neutral_and_blends_back():
    follower = StreamFollower(3, ease_time=0.5, timeout=0.25)
    assert follower.value(0.0) == (pytest.approx([0, 0, 0]), False)
    rising = []
    for k in range(6):
        follower.receive(np.array([1.0, 1.0]), 1.0 + 0.1 * k)
        follower.receive(np.array([2.0]), 1.0 + 0.1 * k, offset=2, alive=False)
        rising.append(follower.value(1.0 + 0.1 * k)[0][0])
    assert rising[0] == 0.0 and rising[-1] == pytest.approx(1.0), "the first values fade in from neutral"
    assert all(b >= a for a, b in zip(rising, rising[1:]))
    values, live = follower.value(1.5)
    assert live and values == pytest.approx([1.0, 1.0, 2.0])
    easing = [follower.value(t) for t in (1.7, 1.8, 2.0, 2.2, 2.4)]
    assert [live for _, live in easing] == [True, False, False, False, False], "silent once 0.25 s passed without a heartbeat"
    assert easing[0][0][0] == pytest.approx(1.0) and 0.0 < easing[2][0][0] < 1.0 and easing[4][0][0] == pytest.approx(0.0, abs=1e-6)
    assert follower.silences == 1
    follower.receive(np.array([3.0, 3.0]), 2.5)
    back = follower.value(2.6)[0][0]
    assert 0.0 < back < 3.0, "blends back instead of jumping"


def test_after_a_dry_spell_model_frames_play_again_once_preroll_frames_are_queued():
    player = FramePlayer(50, 3, fps=25, ease_time=0.04)
    player.preroll = 6
    player.push(*chunk(1.0, frames=4))
    assert not player.next_frame().live, "4 of 6 frames queued: still neutral"
    player.push(*chunk(1.0, frames=4))
    assert all(player.next_frame().live for _ in range(8)), "once playing, every queued frame is played"
    assert not player.next_frame().live and player.underruns == 1
