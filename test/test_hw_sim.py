"""The simulated elbow: a seeded range-of-motion exercise that can follow targets."""

import math

import numpy as np
import pytest

from paindiffusion_ros.hardware.base import ElbowBackend, ElbowConfig, ElbowError, make_backend
from paindiffusion_ros.hardware.sim import Segment, SimulatedElbow


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def play(elbow: SimulatedElbow, clock: FakeClock, seconds: float, rate: float = 100.0) -> np.ndarray:
    samples = []
    for _ in range(int(seconds * rate)):
        clock.now += 1.0 / rate
        state = elbow.read()
        samples.append((state.position, state.velocity, state.effort))
    return np.array(samples)


def make(**changes) -> tuple[SimulatedElbow, FakeClock]:
    clock = FakeClock()
    elbow = SimulatedElbow(ElbowConfig(**changes), clock=clock)
    elbow.open()
    return elbow, clock


def test_make_backend_gives_a_sim_elbow_that_satisfies_the_protocol():
    elbow = make_backend(ElbowConfig(backend="sim"))
    assert isinstance(elbow, SimulatedElbow)
    assert isinstance(elbow, ElbowBackend)
    assert elbow.read() is None
    elbow.open()
    assert elbow.read() is not None
    elbow.close()
    elbow.close()
    assert elbow.read() is None
    assert not elbow.status().connected


def test_exercise_cycles_between_the_configured_angles_and_pauses_at_the_ends():
    elbow, clock = make(sim_min_angle=0.4, sim_max_angle=2.0, sim_cycle_s=6.0, sim_pause_s=1.0, sim_variability=0.1)
    trace = play(elbow, clock, 60.0)
    position, velocity = trace[:, 0], trace[:, 1]
    assert position.min() >= 0.4 - 1e-9 and position.max() <= 2.0 + 1e-9
    assert position.max() > 1.8 and position.min() < 0.6
    flexions = np.sum(np.diff((position > 1.2).astype(int)) == 1)
    assert 8 <= flexions <= 12
    assert np.mean(np.abs(velocity) < 1e-9) > 0.2


def test_velocity_is_the_derivative_of_position():
    elbow, clock = make()
    trace = play(elbow, clock, 20.0, rate=1000.0)
    numeric = np.gradient(trace[:, 0], 1e-3)
    assert np.max(np.abs(numeric - trace[:, 1])[5:-5]) < 0.01


def test_same_seed_same_exercise_and_other_seed_differs():
    first = play(*make(sim_seed=3), 20.0)
    again = play(*make(sim_seed=3), 20.0)
    other = play(*make(sim_seed=4), 20.0)
    np.testing.assert_array_equal(first, again)
    assert np.max(np.abs(first - other)) > 0.01


def test_follows_a_commanded_target_then_resumes_the_exercise():
    elbow, clock = make(sim_follow_speed=1.0)
    play(elbow, clock, 3.0)
    elbow.set_target(1.5)
    trace = play(elbow, clock, 5.0)
    assert trace[-1, 0] == pytest.approx(1.5)
    assert np.all(np.abs(trace[:, 1]) <= 1.875 * 1.0 + 1e-6)
    elbow.set_target(9.0)
    assert play(elbow, clock, 5.0)[-1, 0] == pytest.approx(2.5)
    elbow.set_target(None)
    resumed = play(elbow, clock, 10.0)
    assert abs(resumed[0, 0] - 2.5) < 0.05
    assert np.ptp(resumed[:, 0]) > 1.0


def test_hold_freezes_the_arm_and_resist_opposes_motion():
    elbow, clock = make()
    play(elbow, clock, 2.5)
    elbow.set_mode("hold")
    held = play(elbow, clock, 3.0)
    assert np.ptp(held[:, 0]) == 0.0
    assert elbow.status().torque_enabled
    elbow.set_mode("resist")
    resisted = play(elbow, clock, 10.0)
    moving = np.abs(resisted[:, 1]) > 0.1
    assert np.all(np.sign(resisted[moving, 2]) == -np.sign(resisted[moving, 1]))
    with pytest.raises(ElbowError, match="'limp'"):
        elbow.set_mode("limp")


def test_exercise_outside_the_joint_limits_is_clamped_and_reported():
    elbow, clock = make(sim_min_angle=-0.5, lower_limit=0.0)
    trace = play(elbow, clock, 0.2)
    assert trace[:, 0].min() == 0.0
    assert elbow.status().level == 1 and "outside limits" in elbow.status().message


def test_bad_settings_are_named():
    with pytest.raises(ElbowError, match="backend='servo'"):
        ElbowConfig(backend="servo")
    with pytest.raises(ElbowError, match="direction"):
        ElbowConfig(direction=0)
    with pytest.raises(ElbowError, match="sim_cycle_s"):
        SimulatedElbow(ElbowConfig(sim_cycle_s=2.0, sim_pause_s=1.0))


def test_segment_is_minimum_jerk():
    segment = Segment(0.0, 2.0, 1.0, 3.0)
    assert segment.sample(0.0) == (1.0, 0.0)
    assert segment.sample(1.0) == pytest.approx((2.0, 1.875))
    assert segment.sample(2.0) == pytest.approx((3.0, 0.0))
    assert math.isclose(segment.sample(5.0)[0], 3.0)


def test_status_key_values_are_strings():
    elbow, _ = make()
    values = dict(elbow.status().key_values())
    assert values["backend"] == "sim" and values["connected"] == "True"
    assert all(isinstance(v, str) for v in values.values())
