"""`init(monitor_gym=True)`: videos gymnasium's `RecordVideo` writes are logged into the run as `Video`."""

from __future__ import annotations

import pytest

from conftest import RhEnv

GYM_SCRIPT = """
import gymnasium as gym
import numpy as np
import runhive as wandb


class Tiny(gym.Env):
    # Renders with numpy alone (CartPole's renderer needs pygame).
    metadata = {"render_modes": ["rgb_array"], "render_fps": 4}

    def __init__(self, render_mode="rgb_array"):
        self.render_mode = render_mode
        self.observation_space = gym.spaces.Box(0.0, 1.0, (1,))
        self.action_space = gym.spaces.Discrete(2)
        self.t = 0

    def reset(self, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return np.zeros(1, dtype=np.float32), {}

    def step(self, action):
        self.t += 1
        return np.zeros(1, dtype=np.float32), 1.0, self.t >= 6, False, {}

    def render(self):
        frame = np.zeros((16, 16, 3), dtype=np.uint8)
        frame[:, : self.t * 2] = 255
        return frame


run = wandb.init(project="gym", monitor_gym=True)
env = gym.wrappers.RecordVideo(Tiny(), "videos", episode_trigger=lambda e: True, disable_logger=True)
for _ in range(2):
    env.reset()
    done = False
    while not done:
        _, _, term, trunc, _ = env.step(env.action_space.sample())
        done = term or trunc
env.close()
run.finish()
print(run.id)
"""


def test_record_video_is_logged_as_video(rh: RhEnv) -> None:
    pytest.importorskip("gymnasium")
    pytest.importorskip("moviepy")
    res = rh.run(GYM_SCRIPT)
    assert "not supported" not in res.stderr
    rows = rh.api().run(f"gym/{res.stdout.split()[-1]}").history(pandas=False)
    videos = [r["videos"] for r in rows if "videos" in r]
    assert len(videos) == 2  # one per episode, W&B's key for gymnasium's file names
    assert all(v["_type"] == "video-file" and v["path"].endswith(".mp4") for v in videos)


def test_monitor_gym_without_gymnasium_is_a_clear_error(rh: RhEnv) -> None:
    res = rh.run(
        """
        import sys
        sys.modules["gymnasium"] = None  # as if not installed
        sys.modules["gym"] = None
        import runhive
        try:
            runhive.init(project="gym", monitor_gym=True)
        except runhive.Error as e:
            print("ERR", e)
        """
    )
    assert (
        "ERR Couldn't import the gymnasium python package, install with `pip install gymnasium`" in res.stdout
    )


def test_monitor_patches_once_and_unmonitor_restores() -> None:
    gym = pytest.importorskip("gymnasium")
    from runhive.integration import _gym

    orig = gym.wrappers.RecordVideo.stop_recording
    _gym.monitor()
    _gym.monitor()  # a second init(monitor_gym=True): patched once
    try:
        assert gym.wrappers.RecordVideo.stop_recording is not orig
        assert len(_gym._patched) == 1
    finally:
        _gym.unmonitor()
    assert gym.wrappers.RecordVideo.stop_recording is orig
