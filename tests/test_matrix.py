"""The artifact graph: sharing and invalidation follow from the hashed specs."""

import pytest

from spade_core import config
from spade_core.config import ConfigError
from spade_core.matrix import build_graph


def graph(**overrides):
    return build_graph(config.load({"matrix": {"seeds": [0]}, **overrides}))


def keys_by_stage(g):
    out = {}
    for art in g.artifacts.values():
        out.setdefault(art.stage, set()).add(art.key)
    return out


def changed_stages(a, b):
    ka, kb = keys_by_stage(a), keys_by_stage(b)
    return {stage for stage in ka | kb if ka.get(stage) != kb.get(stage)}


def test_default_matrix_shape():
    g = build_graph(config.load({}))
    assert len(g.cells) == 5 * (5 + 7)
    counts = {stage: len(keys) for stage, keys in keys_by_stage(g).items()}
    # stage1: base, latent_reg_off, continuous_decoder per seed; stage2 adds joint_generator.
    assert counts["stage1"] == 15 and counts["stage2"] == 20 and counts["stage3"] == 35
    assert counts["prepare"] == 5 and counts["download"] == 1 and counts["reference"] == 10
    assert counts["evaluate"] == 60 and counts["baseline_ganrs"] == 5


def test_gamma_changes_only_stage3_and_evaluation():
    assert changed_stages(graph(), graph(synthesis={"gamma": 3.0})) == {"stage3", "evaluate"}


def test_representation_epochs_change_spade_stages_only():
    assert changed_stages(graph(), graph(representation={"epochs": 7})) == {"stage1", "stage2", "stage3", "evaluate"}


def test_evaluation_settings_change_evaluation_only():
    assert changed_stages(graph(), graph(eval={"neighbor_k": 20})) == {"evaluate"}


def test_data_settings_change_everything_downstream_of_prepare():
    changed = changed_stages(graph(), graph(data={"min_item_interactions": 10}))
    assert "download" not in changed and {"prepare", "stage1", "baseline_random", "reference"} <= changed


def test_synthesis_only_ablations_share_base_stage1_and_stage2():
    g = graph()
    lineage = {(c.generator, c.ablation): c.lineage for c in g.cells}
    base = lineage[("spade", "base")]
    for ablation in ("gating_off", "alpha_1.5", "alpha_3.0"):
        assert lineage[("spade", ablation)]["stage1"] == base["stage1"]
        assert lineage[("spade", ablation)]["stage2"] == base["stage2"]
        assert lineage[("spade", ablation)]["stage3"] != base["stage3"]
    assert lineage[("spade", "joint_generator")]["stage1"] == base["stage1"]
    assert lineage[("spade", "joint_generator")]["stage2"] != base["stage2"]
    assert lineage[("spade", "latent_reg_off")]["stage1"] != base["stage1"]
    # Every cell of a seed shares the data split and the reference models.
    assert len({lin["prepare"] for lin in lineage.values()}) == 1
    assert len({lin["reference_mf"] for lin in lineage.values()}) == 1


def test_parents_are_wired_by_role():
    g = graph()
    cell = next(c for c in g.cells if c.generator == "spade" and c.ablation == "base")
    inputs = g.inputs("stage3", cell.lineage["stage3"])
    assert set(inputs) == {"prepare", "stage1", "stage2"}
    assert inputs["stage2"] == f"results/artifacts/stage2/{cell.lineage['stage2']}/manifest.json"
    ev = g.get("evaluate", cell.evaluate).spec["parents"]
    assert ev["generator"] == cell.lineage["stage3"] and {"reference_mf", "reference_ncf", "tstr_real"} <= set(ev)


def test_lookups_of_unknown_keys_fail_clearly():
    g = graph()
    with pytest.raises(Exception, match="no stage1 artifact with key 0000000000000000"):
        g.get("stage1", "0000000000000000")
    some_stage2 = next(iter(keys_by_stage(g)["stage2"]))
    with pytest.raises(Exception, match="no stage1 artifact"):
        g.get("stage1", some_stage2)


def test_unknown_and_deferred_datasets_are_config_errors():
    with pytest.raises(ConfigError, match="unknown dataset 'ml-10m'"):
        graph(matrix={"datasets": ["ml-10m"]})
    with pytest.raises(ConfigError, match="deferred"):
        graph(matrix={"datasets": ["amazon"]})


def test_custom_dataset_keys_follow_file_content(tmp_path):
    path = tmp_path / "shop.csv"
    path.write_text("user,item,rating\n1,2,3\n")
    cfg = {"matrix": {"seeds": [0], "datasets": ["shop"]}, "custom_datasets": {"shop": {"path": str(path)}}}
    first = keys_by_stage(build_graph(config.load(cfg)))["prepare"]
    moved = tmp_path / "moved.csv"
    path.rename(moved)
    cfg["custom_datasets"]["shop"]["path"] = str(moved)
    assert keys_by_stage(build_graph(config.load(cfg)))["prepare"] == first
    moved.write_text("user,item,rating\n1,2,4\n")
    assert keys_by_stage(build_graph(config.load(cfg)))["prepare"] != first
    assert "download" not in keys_by_stage(build_graph(config.load(cfg)))
