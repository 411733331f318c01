"""Bad input raises an error that names the argument, what was given and what is accepted."""

import numpy as np
import pytest

import bioplastic as bp

RNG = np.random.default_rng(0)
NET = bp.LeakyRNN.random(2, 4, 3, tau=5.0, seed=0)
X = RNG.standard_normal((2, 6, 2))
Y = RNG.standard_normal((2, 6, 3))
P = NET.params


def build(**overrides):
    args = dict(W_in=P["W_in"], W_rec=P["W_rec"], W_out=P["W_out"], alpha=0.1)
    args.update(overrides)
    return bp.LeakyRNN(**args)


@pytest.mark.parametrize(
    "overrides, pattern",
    [
        ({"W_rec": np.ones((4, 5))}, r"W_rec must be a square 2-D array .* got shape \(4, 5\)"),
        (
            {"W_in": np.ones((5, 2))},
            r"W_in must have dims \(unit, input\) = \(4, 2\); got shape \(5, 2\): unit=5 \(expected 4\)",
        ),
        ({"W_in": np.ones(4)}, r"W_in must be 2-D \(unit, input\)"),
        (
            {"W_out": np.ones((3, 5))},
            r"W_out must have dims \(output, unit\) = \(3, 4\); got shape \(3, 5\)",
        ),
        ({"b": np.ones(3)}, r"b must have dims \(unit\) = \(4\); got shape \(3,\)"),
        ({"b_out": np.ones((3, 1))}, r"b_out must be 1-D with dims \(output\)"),
    ],
)
def test_wrong_weight_shapes(overrides, pattern):
    with pytest.raises(ValueError, match=pattern):
        build(**overrides)


@pytest.mark.parametrize(
    "overrides, pattern",
    [
        ({"alpha": 0.0}, r"alpha must lie in \(0, 1\]; got values in \[0, 0\]"),
        ({"alpha": 1.5}, r"alpha must lie in \(0, 1\]; got values in \[1.5, 1.5\]"),
        ({"alpha": [0.1, 0.2, -0.1, 0.5]}, r"alpha must lie in \(0, 1\]"),
        ({"alpha": [0.1, 0.2]}, r"alpha must have dims \(unit\) = \(4\); got shape \(2,\)"),
        (
            {"alpha": None, "tau": 0.5, "dt": 1.0},
            r"tau must be >= dt = 1 so that alpha = dt/tau lies in \(0, 1\]; got tau min 0.5",
        ),
        ({"alpha": None, "tau": [5, 5, 5, 0.1]}, r"tau must be >= dt"),
        ({"alpha": None}, r"give exactly one of alpha .* or tau"),
        ({"tau": 10.0}, r"give exactly one of alpha .* or tau"),
        ({"alpha": None, "tau": 10.0, "dt": 0.0}, r"dt must be a finite number > 0; got 0.0"),
        ({"alpha": np.nan}, r"alpha must be finite"),
        ({"alpha": None, "tau": 1e308, "dt": 1e-300}, r"alpha = dt/tau underflows to 0"),
        ({"alpha": None, "tau": 10.0, "dt": "1"}, r"dt must be a finite number > 0; got '1'"),
    ],
)
def test_alpha_tau_dt(overrides, pattern):
    with pytest.raises(ValueError, match=pattern):
        build(**overrides)


@pytest.mark.parametrize("name", ["W_in", "W_rec", "W_out", "b", "b_out"])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_weights(name, bad):
    w = np.array(P[name])
    w.flat[-1] = bad
    with pytest.raises(
        ValueError,
        match=rf"{name} must be finite; it holds 1 NaN/inf value\(s\), the first at index",
    ):
        build(**{name: w})


def test_non_numeric_and_complex_weights():
    with pytest.raises(TypeError, match="W_rec must hold real numbers; got an array of dtype <U1"):
        build(W_rec=np.array([["a"] * 4] * 4))
    with pytest.raises(
        TypeError, match="W_rec must hold real numbers; got an array of dtype complex128"
    ):
        build(W_rec=P["W_rec"] + 1j)
    with pytest.raises(TypeError, match="W_rec must hold real numbers; got an array of dtype bool"):
        build(W_rec=np.ones((4, 4), dtype=bool))
    with pytest.raises(
        TypeError, match="W_rec must hold real numbers; got an array of dtype timedelta64"
    ):
        build(W_rec=np.ones((4, 4), dtype="timedelta64[s]"))
    with pytest.raises(TypeError, match="W_rec is a masked array; fill it"):
        build(W_rec=np.ma.masked_array(P["W_rec"], mask=np.eye(4)))
    with pytest.raises(TypeError, match="b must be a rectangular array of real numbers"):
        NET.with_params({"b": [1.0, [2.0, 3.0], 4.0, 5.0]})
    with pytest.raises(TypeError, match="alpha must hold real numbers; got an array of dtype bool"):
        build(alpha=True)


@pytest.mark.parametrize(
    "kwargs, exc, pattern",
    [
        (
            {"activation": "tahn"},
            ValueError,
            r"activation must be one of \['linear', 'relu', 'sigmoid', 'softplus', 'tanh'\]; got 'tahn'",
        ),
        (
            {"form": "voltage"},
            ValueError,
            r"form must be one of \['rate', 'current'\]; got 'voltage'",
        ),
        (
            {"plastic": ["W_rec", "Wout"]},
            ValueError,
            r"plastic holds unknown name\(s\) \['Wout'\]; accepted: \['W_in', 'W_rec', 'b', 'W_out', 'b_out'\]",
        ),
        ({"plastic": "W_rec"}, TypeError, r"plastic must be a collection of names"),
        ({"plastic": 5}, TypeError, r"plastic must be a collection of names .* got 5"),
        ({"dale": [1, 1, -1]}, ValueError, r"dale must have dims \(unit\) = \(4\)"),
        ({"dale": [1, 1, -1, 0]}, ValueError, r"dale must hold \+1 \(excitatory\) or -1"),
        (
            {"connectivity": {"W_recc": np.ones((4, 4))}},
            ValueError,
            r"connectivity key 'W_recc' is not a weight; accepted: \['W_in', 'W_rec', 'W_out'\]",
        ),
        (
            {"connectivity": {"W_rec": np.ones((4, 3))}},
            ValueError,
            r"connectivity\['W_rec'\] must have dims \(post, pre\) = \(4, 4\); got shape \(4, 3\)",
        ),
        ({"connectivity": {"W_rec": np.full((4, 4), 0.5)}}, ValueError, r"must hold only 0 and 1"),
        ({"connectivity": np.ones((4, 4))}, TypeError, r"connectivity must be a dict"),
        ({"dtype": np.int32}, TypeError, r"dtype must be float32 or float64; got int32"),
    ],
)
def test_bad_options(kwargs, exc, pattern):
    with pytest.raises(exc, match=pattern):
        build(**kwargs)


def test_dale_violation_names_the_fix():
    with pytest.raises(
        ValueError, match=r"W_rec has \d+ weight\(s\) whose sign breaks Dale's law .* net.constrain"
    ):
        build(dale=[1, 1, 1, 1])


@pytest.mark.parametrize(
    "x, pattern",
    [
        (
            np.ones((6, 2)),
            r"x must be 3-D with dims \(trial, time, input\) = \(\*, \*, 2\); got shape \(6, 2\)",
        ),
        (
            np.ones((2, 6, 3)),
            r"x must have dims \(trial, time, input\) = \(\*, \*, 2\); got shape \(2, 6, 3\): input=3 \(expected 2\)",
        ),
        (np.ones((2, 0, 2)), r"x must have at least one trial and one time step"),
    ],
)
def test_bad_x_shapes(x, pattern):
    with pytest.raises(ValueError, match=pattern):
        NET.run(x)
    with pytest.raises(ValueError, match=pattern):
        bp.gradient(NET, x, Y)


@pytest.mark.parametrize("where", ["x", "target", "mask", "h0"])
def test_nan_in_data(where):
    data = {"x": X.copy(), "target": Y.copy(), "mask": np.ones_like(Y), "h0": np.zeros((2, 4))}
    data[where].flat[3] = np.nan
    with pytest.raises(
        ValueError,
        match=rf"{where} must be finite; it holds 1 NaN/inf value\(s\), the first at index",
    ):
        bp.gradient(NET, data["x"], data["target"], data["mask"], h0=data["h0"])


@pytest.mark.parametrize(
    "target, mask, pattern",
    [
        (
            Y[0],
            None,
            r"target must be 3-D with dims \(trial, time, output\) = \(2, 6, 3\); got shape \(6, 3\)",
        ),
        (Y[:, :5], None, r"target must have dims .* got shape \(2, 5, 3\): time=5 \(expected 6\)"),
        (Y[..., :1], None, r"target must have dims .* output=1 \(expected 3\)"),
        (
            Y,
            np.ones((2, 6, 1)),
            r"mask must have dims \(trial, time, output\) = \(2, 6, 3\); got shape \(2, 6, 1\): output=1 \(expected 3\)",
        ),
        (Y, np.ones((6, 3)), r"mask must be 3-D"),
        (Y, -np.ones((2, 6, 3)), r"mask must be >= 0"),
    ],
)
def test_targets_and_masks_are_never_broadcast(target, mask, pattern):
    with pytest.raises(ValueError, match=pattern):
        bp.gradient(NET, X, target, mask)
    with pytest.raises(ValueError, match=pattern):
        bp.loss(NET, X, target, mask)


def test_bad_h0():
    with pytest.raises(
        ValueError, match=r"h0 must have dims \(trial, unit\) = \(2, 4\); got shape \(3, 4\)"
    ):
        NET.run(X, h0=np.zeros((3, 4)))
    with pytest.raises(ValueError, match=r"h0 must have dims \(unit\) = \(4\); got shape \(5,\)"):
        NET.run(X, h0=np.zeros(5))


@pytest.mark.parametrize(
    "rule, options, exc, pattern",
    [
        (
            "bptt_",
            {},
            ValueError,
            r"rule must be one of \[.*'bptt'.*'rtrl'.*'tbptt'.*\]; got 'bptt_'",
        ),
        (
            "bptt",
            {"truncation": 3},
            TypeError,
            r"rule 'bptt' takes no options; got unknown option\(s\) \['truncation'\]",
        ),
        (
            "tbptt",
            {"truncaton": 3},
            TypeError,
            r"rule 'tbptt' takes options \['truncation'\]; got unknown option\(s\) \['truncaton'\]",
        ),
        (
            "tbptt",
            {},
            TypeError,
            r"rule 'tbptt' needs option\(s\) \['truncation'\], e.g. gradient\(..., rule='tbptt', truncation=...\)",
        ),
        ("tbptt", {"truncation": 0}, ValueError, r"truncation must be an int >= 1; got 0"),
        ("tbptt", {"truncation": 2.5}, ValueError, r"truncation must be an int >= 1; got 2.5"),
    ],
)
def test_unknown_rules_and_options(rule, options, exc, pattern):
    with pytest.raises(exc, match=pattern):
        bp.gradient(NET, X, Y, rule=rule, **options)


def test_net_must_be_a_leaky_rnn():
    with pytest.raises(TypeError, match="net must be a bioplastic.LeakyRNN or LSTM; got dict"):
        bp.gradient(dict(NET.params), X, Y)


def test_zero_d_arrays_are_scalars():
    net = build(alpha=None, tau=np.array(5.0), dt=np.array(0.5))
    assert net.alpha == 0.1


def test_constrain_validates_names_and_shapes():
    net = bp.LeakyRNN.random(1, 4, 1, tau=5.0, exc_fraction=0.5)
    with pytest.raises(ValueError, match=r"W_rec must have shape \(4, 4\); got \(1, 4\)"):
        net.constrain({"W_rec": np.ones((1, 4))})
    with pytest.raises(ValueError, match=r"unknown parameter name\(s\) \['Wfoo'\]"):
        net.constrain({"Wfoo": np.ones(3)})


def test_overflow_raises_instead_of_returning_nan():
    net = bp.LeakyRNN(
        np.ones((4, 1)),
        100 * np.eye(4),
        np.ones((1, 4)),
        b=np.ones(4),
        alpha=1.0,
        activation="relu",
    )
    x, y = np.zeros((1, 400, 1)), np.zeros((1, 400, 1))
    for call in (lambda: net.run(x), lambda: bp.loss(net, x, y), lambda: bp.gradient(net, x, y)):
        with pytest.raises(
            bp.NonFiniteError,
            match=r"the simulation overflowed to inf/NaN \(first at time step \d+\)",
        ):
            call()
    with pytest.raises(bp.NonFiniteError, match="the loss overflowed"):
        bp.loss(NET, X, np.full_like(Y, 1e300))
    with pytest.raises(bp.NonFiniteError, match="overflowed"):
        bp.gradient(NET, X, np.full_like(Y, 1e308))


def test_random_rejects_bad_sizes():
    with pytest.raises(ValueError, match="n_rec must be a non-negative int; got 2.5"):
        bp.LeakyRNN.random(1, 2.5, 1, tau=2.0)
    with pytest.raises(ValueError, match="exc_fraction must lie in"):
        bp.LeakyRNN.random(1, 4, 1, tau=2.0, exc_fraction=1.2)
    with pytest.raises(ValueError, match="g must be a finite number >= 0; got 'x'"):
        bp.LeakyRNN.random(1, 4, 1, tau=2.0, g="x")
    with pytest.raises(ValueError, match="seed must be a non-negative int; got -1"):
        bp.LeakyRNN.random(1, 4, 1, tau=2.0, seed=-1)
