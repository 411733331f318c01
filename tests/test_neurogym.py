"""The NeuroGym adapter (NeuroGym is optional: these tests skip cleanly without it)."""

import sys

import numpy as np
import pytest

import bioplastic as bp
from bioplastic.optim import Adam
from bioplastic.tasks import from_neurogym


def test_a_clear_error_without_neurogym(monkeypatch):
    monkeypatch.setitem(sys.modules, "neurogym", None)  # as if it were not installed
    with pytest.raises(ImportError, match="pip install neurogym"):
        from_neurogym("PerceptualDecisionMaking-v0")


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_neurogym_trials_train():
    pytest.importorskip("neurogym")
    task = from_neurogym("PerceptualDecisionMaking-v0", dt=100)
    a = task.sample(8, np.random.default_rng(0))
    b = task.sample(8, np.random.default_rng(0))
    np.testing.assert_array_equal(a.x, b.x)
    assert a.x.shape[2] == task.n_in and a.target.shape[2] == task.n_out
    np.testing.assert_allclose(a.target.sum(-1), 1.0)  # one-hot ground truth (padding masked)
    assert np.all(a.mask[np.arange(8), a.conditions["length"] - 1] == 1)
    net = bp.LeakyRNN.random(task.n_in, 24, task.n_out, tau=2.0, seed=0)
    ds = bp.train(
        net,
        task,
        "bptt",
        optimizer=Adam(lr=1e-2),
        n_trials=640,
        batch_size=16,
        eval_every=10,
        n_eval=16,
        seed=0,
    )
    assert ds.eval_loss.values[-1] < 0.5 * ds.eval_loss.values[0]
    with pytest.raises(ValueError, match="NeuroGym cannot make 'NoSuchTask-v0'"):
        from_neurogym("NoSuchTask-v0")
