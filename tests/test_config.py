"""TOML presets: parsing, validation that names the key, overrides, and the shipped preset."""

from pathlib import Path

import numpy as np
import pytest

from bioplastic.config import build, load_preset, parse_override

MODELS = Path(__file__).resolve().parent.parent / "models"


def test_the_shipped_preset_is_murrays_setup():
    p = load_preset(MODELS / "murray2019_periodic.toml")
    assert p.network.n_rec == 30 and p.network.tau == 10.0
    assert p.task.name == "periodic" and p.task.params["period"] == 20.0
    assert p.rule.name == "rflo" and p.rule.feedback == "random"
    assert p.optimizer.lr == 0.03 and p.training.mean_over_time and p.training.h0 == 0.1
    assert p.task.params["input"] == "none" and p.network.init == "murray_methods"
    net, task, opt = build(p)
    assert net.n_rec == 30 and task.n_steps == 200 and net.plastic == {"W_rec", "W_out"}
    assert net.n_in == 0 and np.abs(net.params["W_out"]).max() > 0.1 / np.sqrt(30)


def test_overrides():
    p = load_preset(
        MODELS / "murray2019_periodic.toml",
        [
            "training.n_trials=50",
            "rule.name=tbptt",
            "rule.truncation=5",
            "task.period=8",
            "optimizer.lr=0.01",
            "network.plastic=['W_rec']",
        ],
    )
    assert p.training.n_trials == 50 and p.rule.options == {"truncation": 5}
    assert p.task.params["period"] == 8 and p.optimizer.lr == 0.01
    assert p.network.plastic == ["W_rec"]
    assert parse_override("rule.feedback=symmetric") == (["rule", "feedback"], "symmetric")
    assert parse_override('rule.feedback="random"') == (["rule", "feedback"], "random")


@pytest.mark.parametrize(
    "override, pattern",
    [
        (
            "network.n_recc=3",
            r"\[network\] has unknown key\(s\) \['n_recc'\]; accepted: \['n_rec',",
        ),
        ("network.n_rec=2.5", r"\[network\] n_rec must be an integer; got 2.5 \(float\)"),
        ("network.activation=3", r"\[network\] activation must be a string; got 3"),
        ("network.n_rec=0", r"\[network\] n_rec and n_out must be >= 1"),
        ("training.update=sometimes", r"\[training\] update must be one of \['trial', 'online'\]"),
        ("training.n_trials=-5", r"\[training\] n_trials must be an int > 0; got -5"),
        ("rule.name=rfl0", r"\[rule\] rule must be one of \[.*\]; got 'rfl0'"),
        (
            "rule.feedback=mirror",
            r"\[rule\] feedback must be one of \['symmetric', 'random', 'random_unit', 'adaptive'\]",
        ),
        ("rule.truncation=3", r"\[rule\] rule 'rflo' takes no options"),
        ("task.period=-1", r"\[task\] period must be a finite number > 0; got -1"),
        ("task.perod=20", r"\[task\] has unknown key\(s\) \['perod'\] for 'periodic'"),
        ("task.name=grasping", r"\[task\] name must be one of \[.*'periodic'.*\]; got 'grasping'"),
        ("optimizer.name=rmsprop", r"\[optimizer\] name must be one of \['adam', 'sgd'\]"),
        ("optimizer.lr=-0.1", r"\[optimizer\] lr for W_in must be a finite number >= 0"),
        (
            "optimizer.lr=fast",
            r"\[optimizer\] lr must be a number or a table of a number; got 'fast'",
        ),
        ("extra.key=1", r"unknown table\(s\) \['extra'\]"),
    ],
)
def test_bad_presets_name_the_key(override, pattern):
    with pytest.raises(ValueError, match=pattern):
        load_preset(MODELS / "murray2019_periodic.toml", [override])


def test_bad_files_and_override_syntax(tmp_path):
    with pytest.raises(FileNotFoundError, match="no preset at"):
        load_preset(tmp_path / "nope.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[network\nn_rec = 3")
    with pytest.raises(ValueError, match="is not valid TOML"):
        load_preset(bad)
    with pytest.raises(ValueError, match=r"--set takes section.key=value"):
        parse_override("n_trials=3")


@pytest.mark.parametrize("preset", sorted(p.name for p in MODELS.glob("*.toml")))
def test_every_shipped_preset_loads_and_builds(preset):
    p = load_preset(MODELS / preset)
    net, task, opt = build(p)
    assert net.n_in == task.n_in and net.n_out == task.n_out


@pytest.mark.parametrize(
    "override, pattern",
    [
        ("network.dt=0", r"\[network\] dt must be a finite number > 0; got 0"),
        ("optimizer.beta1=0.5", r"\[optimizer\] \['beta1'\] apply to name = \"adam\" only"),
        ("training.seed=-1", r"\[training\] seed must be a non-negative int; got -1"),
        ("training.probe=3", r"\[training\] probe must be a list of a string or a table"),
        ("training.probe=['nope']", r"\[training\] rule must be one of"),
    ],
)
def test_more_bad_values(override, pattern):
    with pytest.raises(ValueError, match=pattern):
        load_preset(MODELS / "murray2019_periodic.toml", [override])


def test_probe_takes_names_and_tables():
    p = load_preset(
        MODELS / "murray2019_periodic.toml",
        ["training.probe=['rflo', {name = 'tbptt', truncation = 10}]"],
    )
    assert p.training.probe == ["rflo", {"name": "tbptt", "truncation": 10}]


def test_none_unsets_an_optional_key():
    p = load_preset(
        MODELS / "murray2019_periodic.toml", ["training.align_with=none", "training.update=online"]
    )
    assert p.training.align_with is None and p.training.update == "online"
    with pytest.raises(ValueError, match=r"\[training\] n_trials must be an integer; got None"):
        load_preset(MODELS / "murray2019_periodic.toml", ["training.n_trials=none"])


def test_a_preset_s_network_is_drawn_from_its_seed():
    """Two seeds, two networks (and feedback): a seed sweep does not start from one network."""
    nets = [
        build(load_preset(MODELS / "murray2019_periodic.toml", [f"training.seed={s}"]))[0]
        for s in (0, 1, 0)
    ]
    assert not np.array_equal(nets[0].params["W_rec"], nets[1].params["W_rec"])
    np.testing.assert_array_equal(nets[0].params["W_rec"], nets[2].params["W_rec"])
