"""bioplastic.alignment: cosine, angle and norm ratio of each rule against the exact gradient."""

import numpy as np
import pytest
import xarray as xr
from helpers import FORMS, make_problem

import bioplastic as bp
from bioplastic.alignment import PARAM_GROUPS


def problem(form, **kw):
    return make_problem(
        np.random.default_rng(1),
        form=form,
        activation="tanh",
        alpha="per-unit",
        B=3,
        T=20,
        n=6,
        n_in=2,
        n_out=2,
        masked=True,
        with_h0=False,
        **kw,
    )


@pytest.mark.parametrize("form", FORMS)
def test_alignment_dataset(form):
    p = problem(form)
    rules = [
        "bptt",
        "rtrl",
        "rflo",
        "eprop",
        "snap1",
        ("tbptt", {"truncation": 5}),
        "uoro",
        ("rtrl", {"feedback": "random"}),
    ]
    ds = bp.alignment(p.net, p.x, p.target, rules, mask=p.mask, pairwise=True)
    assert isinstance(ds, xr.Dataset)
    assert list(ds.rule.values) == [
        "bptt",
        "rtrl",
        "rflo",
        "eprop",
        "snap1",
        "tbptt(truncation=5)",
        "uoro",
        "rtrl(feedback=random)",
    ]
    assert list(ds.param.values) == list(PARAM_GROUPS) and "all" in ds.param.values
    for v in ("cosine", "angle", "norm_ratio"):
        assert ds[v].dims == ("rule", "param")
    assert ds.angle.attrs["units"] == "degree" and ds.attrs["reference"] == "bptt"
    exact = ds.sel(rule=["bptt", "rtrl"])
    np.testing.assert_allclose(exact.cosine, 1.0, atol=1e-12)
    np.testing.assert_allclose(exact.angle, 0.0, atol=1e-4)
    np.testing.assert_allclose(exact.norm_ratio, 1.0, rtol=1e-10)
    # the readout is exact for every rule; the recurrent weights are where rules differ
    np.testing.assert_allclose(ds.cosine.sel(param=["W_out", "b_out"]), 1.0, atol=1e-12)
    local = ds.cosine.sel(rule="eprop", param="recurrent").item()
    g = {r: bp.gradient(p.net, p.x, p.target, p.mask, rule=r) for r in ("eprop", "bptt")}
    a, b = (np.concatenate([g[r][k].ravel() for k in ("W_in", "W_rec", "b")]) for r in g)
    assert local == pytest.approx(a @ b / np.linalg.norm(a) / np.linalg.norm(b), rel=1e-12)
    assert local < 0.999  # e-prop is not exact here
    np.testing.assert_allclose(np.cos(np.radians(ds.angle)), ds.cosine, atol=1e-12)
    # pairwise: symmetric, ones on the diagonal, and its reference column is the cosine
    pc = ds.pairwise_cosine.sel(param="recurrent").values
    np.testing.assert_allclose(pc, pc.T, atol=1e-14)
    np.testing.assert_allclose(np.diag(pc), 1.0, atol=1e-12)
    np.testing.assert_allclose(
        ds.pairwise_cosine.sel(rule_b="bptt", param="all"), ds.cosine.sel(param="all"), atol=1e-14
    )


def test_alignment_matches_the_gradients():
    p = problem("rate")
    ds = bp.alignment(p.net, p.x, p.target, ["rflo", "snap1"], mask=p.mask, seed=3)
    g_ref = bp.gradient(p.net, p.x, p.target, p.mask)
    g = bp.gradient(p.net, p.x, p.target, p.mask, rule="rflo", seed=3)
    a, b = g["W_rec"].ravel(), g_ref["W_rec"].ravel()
    cos = a @ b / np.linalg.norm(a) / np.linalg.norm(b)
    assert ds.cosine.sel(rule="rflo", param="W_rec").item() == pytest.approx(cos, rel=1e-12)
    assert ds.norm_ratio.sel(rule="rflo", param="W_rec").item() == pytest.approx(
        np.linalg.norm(a) / np.linalg.norm(b), rel=1e-12
    )


def test_local_rules_align_perfectly_without_recurrence():
    p = problem("current")
    net = p.net.with_params({"W_rec": np.zeros((6, 6))})
    ds = bp.alignment(
        net, p.x, p.target, [("rflo", {"feedback": "symmetric"}), "eprop"], mask=p.mask
    )
    np.testing.assert_allclose(ds.cosine.sel(param="all"), 1.0, atol=1e-12)


def test_frozen_parameters_give_nan_and_reference_can_be_rtrl():
    p = problem("rate")
    net = bp.LeakyRNN(**p.net.params, alpha=p.net.alpha, plastic=("W_rec", "W_out"))
    ds = bp.alignment(net, p.x, p.target, ["bptt"], reference="rtrl", mask=p.mask)
    assert np.isnan(ds.cosine.sel(rule="bptt", param="W_in")) and np.isnan(
        ds.norm_ratio.sel(param="b")
    )
    assert ds.cosine.sel(rule="bptt", param="all").item() == pytest.approx(1.0, abs=1e-12)
    assert ds.attrs["reference"] == "rtrl"
    assert "pairwise_cosine" not in ds


@pytest.mark.parametrize(
    "rules, exc, pattern",
    [
        ("rflo", TypeError, r"rules must be a non-empty list of rule specs"),
        ([], TypeError, r"rules must be a non-empty list"),
        (["rflo", "rflo"], ValueError, r"rules must be distinct; got \['rflo', 'rflo'\]"),
        (
            [("tbptt", 5)],
            TypeError,
            r"each rule must be a name such as 'rflo' or a \(name, options\) pair",
        ),
        (["rfl0"], ValueError, r"rule must be one of \[.*\]; got 'rfl0'"),
        ([("tbptt", {"truncaton": 5})], TypeError, r"unknown option\(s\) \['truncaton'\]"),
    ],
)
def test_bad_rule_specs(rules, exc, pattern):
    p = problem("rate")
    with pytest.raises(exc, match=pattern):
        bp.alignment(p.net, p.x, p.target, rules)


def test_alignment_round_trips_through_netcdf(tmp_path):
    p = problem("rate")
    ds = bp.alignment(p.net, p.x, p.target, ["rflo", "eprop"], pairwise=True)
    ds.to_netcdf(tmp_path / "a.nc", engine="h5netcdf")
    back = xr.open_dataset(tmp_path / "a.nc", engine="h5netcdf")
    xr.testing.assert_identical(ds, back.load())


def test_groups_and_pairwise_match_hand_computations():
    p = problem("current")
    ds = bp.alignment(p.net, p.x, p.target, ["rflo", "snap1"], mask=p.mask, pairwise=True, seed=2)
    ref = bp.gradient(p.net, p.x, p.target, p.mask)
    est = {r: bp.gradient(p.net, p.x, p.target, p.mask, rule=r, seed=2) for r in ("rflo", "snap1")}

    def cos(a, b):
        return a @ b / np.linalg.norm(a) / np.linalg.norm(b)

    for group, names in (("recurrent", ("W_in", "W_rec", "b")), ("all", bp.PARAM_NAMES)):
        flat = {r: np.concatenate([est[r][k].ravel() for k in names]) for r in est}
        r_flat = np.concatenate([ref[k].ravel() for k in names])
        for r in est:
            assert ds.cosine.sel(rule=r, param=group).item() == pytest.approx(
                cos(flat[r], r_flat), rel=1e-12
            )
            assert ds.norm_ratio.sel(rule=r, param=group).item() == pytest.approx(
                np.linalg.norm(flat[r]) / np.linalg.norm(r_flat), rel=1e-12
            )
        assert ds.pairwise_cosine.sel(
            rule="rflo", rule_b="snap1", param=group
        ).item() == pytest.approx(cos(flat["rflo"], flat["snap1"]), rel=1e-12)
    w = ("W_rec",)
    a, b = (np.concatenate([est[r][k].ravel() for k in w]) for r in ("rflo", "snap1"))
    assert ds.pairwise_cosine.sel(
        rule="rflo", rule_b="snap1", param="W_rec"
    ).item() == pytest.approx(cos(a, b), rel=1e-12)


def test_rule_options_label_arrays_and_numpy_scalars_distinctly():
    p = problem("rate")
    B1, B2 = np.ones((6, 2)), -np.ones((6, 2))
    ds = bp.alignment(
        p.net,
        p.x,
        p.target,
        [
            ("rflo", {"feedback": B1}),
            ("rflo", {"feedback": B2}),
            ("tbptt", {"truncation": np.int64(3)}),
            ("tbptt", {"truncation": np.int64(5)}),
        ],
    )
    labels = list(ds.rule.values)
    assert len(set(labels)) == 4 and "tbptt(truncation=3)" in labels
    assert ds.cosine.sel(rule=labels[0], param="W_rec").item() == pytest.approx(
        -ds.cosine.sel(rule=labels[1], param="W_rec").item(), rel=1e-12
    )
    with pytest.raises(TypeError, match=r"the options of rule 'rflo' may not set \['seed'\]"):
        bp.alignment(p.net, p.x, p.target, [("rflo", {"seed": 3})])
