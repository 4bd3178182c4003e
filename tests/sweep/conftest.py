"""Shared fixtures of the sweep tests: one tiny backbone for the area, and a local Ray
instance per test module (Ray takes seconds to start on a 2-core machine; per module, not
per session, so that no Ray is left running under other areas' tests)."""

import pytest

from sbn.data import load_dataset
from sbn.models import ModelConfig
from sbn.train import TrainSettings, train

TINY = ModelConfig(num_classes=10, width=0.0625, layers=(1, 1, 1, 1), time_steps=2)
QUICK = TrainSettings(epochs=1, train_samples=64, test_samples=32)


@pytest.fixture(scope="session")
def backbone(tmp_path_factory):
    """A step-1 checkpoint of the reduced model (RB1..RB4), one epoch on 64 digits."""
    path = tmp_path_factory.mktemp("backbone") / "backbone.safetensors"
    train(TINY, QUICK, load_dataset("digits", train=True), load_dataset("digits", train=False), path)
    return path


@pytest.fixture(scope="module")
def ray_local():
    """A local Ray instance with 2 CPUs and no GPU (also on a machine that has one: the
    tests' tasks ask for none, and the refusal of a task asking for one needs a cluster
    without), shared by the module's tests that fan out on Ray."""
    import ray

    ray.init(num_cpus=2, num_gpus=0, include_dashboard=False, log_to_driver=False)
    try:
        yield ray
    finally:
        ray.shutdown()


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread():
    """In-process trials with one torch thread, as on a Ray worker: on a shared 2-core
    machine two threads contend with other processes and run many times slower."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)
