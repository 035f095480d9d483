"""`bimo train launch` for real: SFT in two processes (DDP over gloo on CPU) through
`accelerate launch`, stopped at a checkpoint and resumed, against a single-process run.

Both see the same global batches (2 processes × 2 = 1 process × 4, the same seeded order),
so the logged losses must agree; only the order of float reductions differs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

from bimo.train.models import read_run

#: largest relative difference allowed between the DDP and single-process loss at any step
LOSS_RTOL = 1e-4
#: constant learning rate: a run stopped at step 2 and resumed to step 4 follows the same
#: schedule as one that ran 4 steps without stopping
SETTINGS = {"max_length": 128, "logging_steps": 1, "save_steps": 2, "lr_scheduler": "constant",
            "learning_rate": 1e-3}


def _losses(history) -> dict[int, float]:
    return {h["step"]: h["loss"] for h in history if "loss" in h}


def _launch(toy_data, tiny_base, out, home, steps: int, resume: bool = False) -> subprocess.CompletedProcess:
    sets = [x for k, v in {**SETTINGS, "batch_size": 2}.items() for x in ("--set", f"{k}={v}")]
    cmd = [sys.executable, "-m", "bimo.train", "launch", "cpu-ddp", "--num-processes", "2", "--",
           "sft", str(toy_data["sft"]), "--base", str(tiny_base), "-o", str(out), "--max-steps", str(steps),
           *sets, *(["--resume"] if resume else [])]
    env = {**os.environ, "BIMO_HOME": str(home), "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)


def test_sft_in_two_processes_matches_one_and_resumes(tmp_path, tiny_base, toy_data, bimo_home, run_stage):
    single = run_stage("sft", data=toy_data["sft"], base=str(tiny_base), output_dir=tmp_path / "one",
                       max_steps=4, **{**SETTINGS, "batch_size": 4})
    out = tmp_path / "ddp"
    first = _launch(toy_data, tiny_base, out, bimo_home, steps=2)
    assert first.returncode == 0, first.stderr[-3000:]
    assert (out / "checkpoints" / "checkpoint-2").is_dir()
    second = _launch(toy_data, tiny_base, out, bimo_home, steps=4, resume=True)
    assert second.returncode == 0, second.stderr[-3000:]

    run = read_run(out)
    assert run["finished"] and run["metrics"]["resumed_from"].endswith("checkpoint-2")
    history = [json.loads(x) for x in (out / "log_history.jsonl").read_text().splitlines()]
    assert {h["learning_rate"] for h in history if "loss" in h} == {1e-3}  # --set reached the trainer
    ddp, one = _losses(history), _losses(single.history)
    assert sorted(ddp) == sorted(one) == [1, 2, 3, 4]
    for step in one:
        assert abs(ddp[step] - one[step]) <= LOSS_RTOL * abs(one[step]), (step, ddp[step], one[step])
    # the processes joined: each step counted the tokens of both halves of the global batch
    # (one process alone, with its batch of 2, would count half). TRL restarts this count
    # after a resume, so the steps before the stop are compared.
    tokens = [h["num_tokens"] for h in history if "num_tokens" in h][:2]
    assert tokens == [h["num_tokens"] for h in single.history if "num_tokens" in h][:2]
