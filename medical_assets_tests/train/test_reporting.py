"""What a training process logs back per step: the time left at its own pace."""

from __future__ import annotations

from types import SimpleNamespace

from medical_assets.train import reporting


class Lines(list):
    def info(self, message: str) -> None:
        self.append(message)


def test_the_time_left_is_the_steps_left_at_the_pace_so_far():
    assert reporting.time_left(steps_done=2, steps_left=8, seconds=10.0) == "about 40 s left"
    assert reporting.time_left(steps_done=1, steps_left=1_000, seconds=36.0) == "about 10.0 h left"
    assert reporting.time_left(steps_done=0, steps_left=5, seconds=3.0) == "time left unknown"
    assert reporting.time_left(steps_done=5, steps_left=0, seconds=3.0) == "done"


def test_a_resumed_run_counts_only_the_steps_of_this_process(monkeypatch):
    clock = iter([0.0, 100.0, 110.0, 130.0])  # created, training begins, two steps logged
    monkeypatch.setattr(reporting.time, "monotonic", lambda: next(clock))
    log = Lines()
    progress = reporting.PipesProgress(log)
    args = SimpleNamespace(world_size=1, per_device_train_batch_size=1, gradient_accumulation_steps=1)
    state = SimpleNamespace(global_step=40, max_steps=50, is_world_process_zero=True)  # resumed at step 40
    progress.on_train_begin(args, state, None)
    state.global_step = 41
    progress.on_log(args, state, None, logs={"loss": 1.0, "learning_rate": 1e-5})
    state.global_step = 42
    progress.on_log(args, state, None, logs={"loss": 0.9, "learning_rate": 1e-5})
    # 2 steps in 30 s: 8 steps left take 120 s (not 40 steps in 30 s)
    assert log[1].startswith("step 41/50: loss 1.0000") and log[1].endswith("about 90 s left")
    assert log[2].startswith("step 42/50: loss 0.9000") and log[2].endswith("about 120 s left")
