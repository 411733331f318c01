"""Every paper figure, end to end: its quick variant in the default suite, its full run under -m slow.

The quick variants train small networks (seconds each), check that the PNG and its numbers are
written and that the paper's effects keep their direction (each module's ``check``), and that a
second call replots from the cached runs without training anything.
"""

import json
import math

import pytest

from bioplastic import sweeps
from bioplastic.cli import main as cli_main
from bioplastic.figures import FIGURES, make


def _finite(numbers: dict) -> bool:
    """No NaN among the numbers (inf is a result: no response, a diverged run)."""
    values = []
    for v in numbers.values():
        values.extend(v if isinstance(v, list) else [v])
    return not any(math.isnan(v) for v in values if isinstance(v, float))


@pytest.mark.parametrize("name", sorted(FIGURES))
def test_quick_figure_is_made_checked_and_replotted_from_its_cache(
    name, tmp_path, monkeypatch, capsys
):
    assert (
        cli_main(["figure", name, "--quick", "--scheduler", "serial", "--out", str(tmp_path)]) == 0
    )
    png = tmp_path / f"{name}_quick.png"
    assert png.stat().st_size > 10_000
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    record = json.loads((tmp_path / f"{name}_quick.json").read_text())
    assert record["failed_checks"] == []
    assert record["numbers"] and _finite(record["numbers"])
    assert (tmp_path / "cache" / f"{name}_quick").is_dir()
    out = capsys.readouterr().out
    assert f"wrote {png}" in out

    def no_training(*args, **kwargs):
        raise AssertionError("a cached figure must not train")

    monkeypatch.setattr(sweeps, "run", no_training)
    png.unlink()
    _, numbers, bad, _ = make(name, quick=True, out_dir=tmp_path, scheduler=None)
    assert png.exists() and bad == []
    assert json.dumps(numbers, sort_keys=True) == json.dumps(record["numbers"], sort_keys=True)


def test_every_figure_has_its_script_in_figures():
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent / "figures"
    for name in FIGURES:
        text = (root / f"{name}.py").read_text()
        assert f'name="{name}"' in text, name


def test_an_unknown_figure_names_the_known_ones():
    with pytest.raises(ValueError, match="murray2019_fig2"):
        make("murray2019_fig9", quick=True)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(FIGURES))
def test_full_figure_reproduces_the_paper_s_effects(name, tmp_path):
    """The full runs (minutes to an hour each; see figures/README.md for the wall times)."""
    _, numbers, bad, _ = make(name, out_dir=tmp_path, n_workers=2)
    assert bad == [] and _finite(numbers)
