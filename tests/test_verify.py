"""The finite-difference tool the exactness tests rely on is itself accurate."""

import numpy as np

from bioplastic.verify import central_difference, relative_error


def test_central_difference_on_a_known_gradient():
    rng = np.random.default_rng(0)
    A = rng.standard_normal((4, 4))
    v = rng.standard_normal((2, 2))

    def fun(w):
        z = w.ravel()
        return float(np.sin(z).sum() + 0.5 * z @ A @ z + np.exp(z[0] * z[3]))

    z = v.ravel()
    exact = np.cos(z) + 0.5 * (A + A.T) @ z
    exact[0] += z[3] * np.exp(z[0] * z[3])
    exact[3] += z[0] * np.exp(z[0] * z[3])
    fd = central_difference(fun, v)
    assert fd.shape == v.shape
    assert np.max(np.abs(fd.ravel() - exact)) < 1e-9
    np.testing.assert_array_equal(v, v.copy())  # the input is not modified


def test_relative_error_is_relative_to_the_whole_gradient():
    ref = {"a": np.array([3.0, 4.0]), "b": np.array([0.0])}
    est = {"a": np.array([3.0, 4.0]), "b": np.array([0.5])}
    assert relative_error(est, ref) == 0.1
    assert relative_error(ref, ref) == 0.0
