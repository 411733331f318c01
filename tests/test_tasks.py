import numpy as np
import pytest
import xarray as xr

from bioplastic.tasks import PeriodicOutput, Trials, periodic_target


def test_periodic_output_is_murrays_target():
    task = PeriodicOutput(period=20, tau=10, dt=1)
    assert (task.n_in, task.n_out, task.n_steps) == (1, 1, 200)
    tr = task.sample(3, np.random.default_rng(0))
    t = np.arange(1, 201)
    w = 2 * np.pi * t / 200
    want = np.sin(w) + 0.5 * np.sin(2 * w) + 0.25 * np.sin(4 * w)
    np.testing.assert_allclose(tr.target[1, :, 0], want, rtol=1e-13, atol=1e-15)
    np.testing.assert_array_equal(tr.x, np.ones((3, 200, 1)))
    assert tr.mask is None and len(tr) == 3
    np.testing.assert_array_equal(tr.conditions["period"], [20, 20, 20])
    np.testing.assert_allclose(periodic_target(t, 200), want)


def test_periodic_output_without_input_and_longer_trials():
    task = PeriodicOutput(period=8, tau=5, dt=0.5, input="none", n_periods=2)
    assert task.n_in == 0 and task.n_steps == 160
    tr = task.sample(2, np.random.default_rng(0))
    assert tr.x.shape == (2, 160, 0)
    np.testing.assert_allclose(tr.target[0, :80], tr.target[0, 80:], atol=1e-12)  # periodic


@pytest.mark.parametrize(
    "kwargs, pattern",
    [
        ({"period": 0}, r"period must be a finite number > 0; got 0"),
        ({"tau": -1}, r"tau must be a finite number > 0"),
        ({"input": "ramp"}, r"input must be one of \['tonic', 'none'\]; got 'ramp'"),
        ({"period": 0.05, "tau": 1}, r"too short"),
        ({"dt": float("nan")}, r"dt must be a finite number > 0"),
    ],
)
def test_periodic_output_validates(kwargs, pattern):
    with pytest.raises(ValueError, match=pattern):
        PeriodicOutput(**kwargs)
    with pytest.raises(ValueError, match=r"n_trials must be an int > 0; got 0"):
        PeriodicOutput().sample(0)


def test_trials_to_xarray_and_validation():
    tr = Trials(
        np.zeros((2, 5, 1)),
        np.ones((2, 5, 2)),
        np.ones((2, 5, 2)),
        {"interval": np.array([3.0, 4.0])},
        dt=0.5,
    )
    ds = tr.to_xarray()
    assert isinstance(ds, xr.Dataset)
    assert dict(ds.sizes) == {"trial": 2, "time": 5, "input": 1, "output": 2}
    np.testing.assert_array_equal(ds.interval, [3.0, 4.0])
    np.testing.assert_allclose(ds.time, [0.5, 1.0, 1.5, 2.0, 2.5])
    with pytest.raises(ValueError, match=r"target must have dims \(trial, time, output\)"):
        Trials(np.zeros((2, 5, 1)), np.ones((2, 4, 1)))
    with pytest.raises(ValueError, match=r"conditions\['c'\] must have dims \(trial\) = \(2\)"):
        Trials(np.zeros((2, 5, 1)), np.ones((2, 5, 1)), conditions={"c": np.ones(3)})
    with pytest.raises(ValueError, match="target must be finite"):
        Trials(np.zeros((2, 5, 1)), np.full((2, 5, 1), np.nan))
