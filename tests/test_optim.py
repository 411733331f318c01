import numpy as np
import pytest

from bioplastic.optim import SGD, Adam, clip_by_global_norm


def grads():
    rng = np.random.default_rng(0)
    return {"W_rec": rng.standard_normal((3, 3)), "W_out": rng.standard_normal((1, 3))}


def test_sgd_per_parameter_learning_rates():
    g = grads()
    opt = SGD(lr={"W_rec": 0.1, "W_out": 0.5})
    up, _ = opt.update(g, opt.init(g))
    np.testing.assert_array_equal(up["W_rec"], -0.1 * g["W_rec"])
    np.testing.assert_array_equal(up["W_out"], -0.5 * g["W_out"])
    assert opt.lr["W_in"] == 0.0  # not named: frozen by a zero rate


def test_clipping_really_clips():
    g = grads()
    norm = np.sqrt(sum(np.sum(v**2) for v in g.values()))
    clipped, before = clip_by_global_norm(g, 0.5)
    assert before == pytest.approx(norm)
    after = np.sqrt(sum(np.sum(v**2) for v in clipped.values()))
    assert after == pytest.approx(0.5, rel=1e-12)
    for k in g:  # direction kept
        np.testing.assert_allclose(clipped[k], g[k] * 0.5 / norm)
    opt = SGD(lr=2.0, clip_norm=0.5)
    up, _ = opt.update(g, opt.init(g))
    applied = np.sqrt(sum(np.sum(v**2) for v in up.values()))
    assert applied == pytest.approx(1.0, rel=1e-12)  # lr · clip_norm, not lr · norm
    small = {k: v * 1e-3 for k, v in g.items()}
    up, _ = opt.update(small, None)
    np.testing.assert_allclose(up["W_rec"], -2.0 * small["W_rec"])  # below the limit: untouched


def test_adam_matches_kingma_and_ba():
    g1, g2 = grads(), {k: v * -0.5 + 0.1 for k, v in grads().items()}
    opt = Adam(lr=0.01, beta1=0.9, beta2=0.99, eps=1e-8)
    st = opt.init(g1)
    _, st = opt.update(g1, st)
    up, st = opt.update(g2, st)
    for k in g1:
        m = 0.9 * (0.1 * g1[k]) + 0.1 * g2[k]
        v = 0.99 * (0.01 * g1[k] ** 2) + 0.01 * g2[k] ** 2
        want = -0.01 * (m / (1 - 0.9**2)) / (np.sqrt(v / (1 - 0.99**2)) + 1e-8)
        np.testing.assert_allclose(up[k], want, rtol=1e-12)
    assert st.step == 2


@pytest.mark.parametrize(
    "make, pattern",
    [
        (lambda: SGD(lr=-1), r"lr for W_in must be a finite number >= 0; got -1"),
        (lambda: SGD(lr={"W_recc": 0.1}), r"lr has unknown parameter name\(s\) \['W_recc'\]"),
        (lambda: SGD(clip_norm=0), r"clip_norm must be None or a finite number > 0; got 0"),
        (lambda: Adam(beta1=1.0), r"beta1 must lie in \[0, 1\); got 1.0"),
        (lambda: Adam(eps=0), r"eps must be a number > 0"),
    ],
)
def test_bad_optimizer_settings(make, pattern):
    with pytest.raises(ValueError, match=pattern):
        make()
