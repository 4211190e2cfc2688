import pytest

from spade_core import config
from spade_core.config import ConfigError
from tests.conftest import REPO


def test_defaults_equal_the_shipped_config_yaml():
    assert config.load({}) == config.load(config.read_yaml(REPO / "config.yaml"))


def test_defaults_are_the_papers_knobs():
    cfg = config.load({})
    assert cfg["data"] == {
        "val_frac": 0.1, "test_frac": 0.1, "min_user_interactions": 5, "min_item_interactions": 5,
        "n_neg": 5, "duplicates": "last",
    }
    assert cfg["representation"]["latent_dim"] == 64 and cfg["representation"]["epochs"] == 100
    assert cfg["generative"]["n_critic"] == 5 and cfg["generative"]["gp_lambda"] == 10.0
    assert (cfg["generative"]["beta1"], cfg["generative"]["beta2"]) == (0.0, 0.9)
    assert cfg["synthesis"]["gamma"] == 5.0 and cfg["synthesis"]["alpha"] == cfg["synthesis"]["beta"] == 2.0
    assert cfg["synthesis"]["gating"] is True
    assert cfg["eval"]["topk"] == [10, 20] and cfg["eval"]["neighbor_k"] == 10
    assert cfg["matrix"]["seeds"] == [0, 1, 2, 3, 4]
    assert cfg["matrix"]["generators"] == ["spade", "random", "marginal", "noise_mf", "ganrs", "vae"]
    assert len(cfg["matrix"]["ablations"]) == 7


def test_partial_sections_are_completed():
    cfg = config.load({"synthesis": {"gamma": 3.0}})
    assert cfg["synthesis"]["gamma"] == 3.0
    assert cfg["synthesis"]["alpha"] == 2.0


def test_command_line_strings_become_the_types_the_schema_expects():
    # `snakemake --config 'synthesis={gamma: 2.5}'` passes nested values as strings.
    raw = {"synthesis": {"gamma": "2.5", "gating": "false"}, "matrix": {"seeds": ["0", "3"], "datasets": ["100"]},
           "representation": {"encoder_hidden": ["32", "16"]}}
    cfg = config.load(raw)
    assert cfg["synthesis"]["gamma"] == 2.5 and cfg["synthesis"]["gating"] is False
    assert cfg["matrix"]["seeds"] == [0, 3] and cfg["representation"]["encoder_hidden"] == [32, 16]
    with pytest.raises(ConfigError, match="unknown dataset '100'"):  # names stay text
        from spade_core.matrix import build_graph

        build_graph(cfg)


@pytest.mark.parametrize(
    "raw, fragments",
    [
        ({"synthesis": {"gamma": 0.5}}, ["synthesis.gamma", "0.5", "minimum of 1"]),
        ({"synthesis": {"gamma": "lots"}}, ["synthesis.gamma", "'lots'", "number"]),
        ({"eval": {"reference_models": ["svd"]}}, ["eval.reference_models.0", "'svd'", "['mf', 'ncf']"]),
        ({"synthesis": {"gama": 5}}, ["synthesis.gama", "allowed here", "gamma"]),
        ({"data": {"val_frac": 1.5}}, ["data.val_frac", "1.5"]),
        ({"matrix": {"ablations": ["base", "nope"]}}, ["matrix.ablations", "'nope'", "not defined"]),
        ({"matrix": {"generators": ["spade", "gan"]}}, ["matrix.generators.1", "'gan'", "random"]),
    ],
)
def test_bad_values_name_key_value_and_allowed(raw, fragments):
    with pytest.raises(ConfigError) as err:
        config.load(raw)
    for fragment in fragments:
        assert fragment in str(err.value)


def test_an_invalid_ablation_overlay_is_named():
    raw = {"ablations": {"base": {}, "bad": {"synthesis": {"alpha": -1}}}, "matrix": {"ablations": ["base"]}}
    with pytest.raises(ConfigError, match="ablation 'bad'.*synthesis.alpha"):
        config.load(raw)


def test_overlay_changes_only_its_keys():
    cfg = config.load({})
    over = config.with_overlay(cfg, "gating_off")
    assert over["synthesis"]["gating"] is False
    assert {k: v for k, v in over.items() if k != "synthesis"} == {k: v for k, v in cfg.items() if k != "synthesis"}
    assert cfg["synthesis"]["gating"] is True  # the base config is not mutated
