"""The plan of the shipped studies, without Snakemake: tuples, paths, targets, resources."""

from __future__ import annotations

import copy
from types import SimpleNamespace

import pytest
import yaml

import conftest
from conftest import REPO, SCHEMA, demo_config
from llm_footprint import cluster, cluster_estimates
from llm_footprint.plan import Paths, Plan, Tuple, selection_problem
from llm_footprint.schema import ConfigError


def _config(name: str) -> dict:
    with open(REPO / "configs" / name, encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def _plan(config: dict, tmp_path=None) -> Plan:
    config = copy.deepcopy(config)
    if tmp_path is not None:  # no prepared model of an earlier run changes the estimates
        config["study"]["resources_root"] = str(tmp_path / "resources")
    return Plan.from_config(config, SCHEMA, search_dirs=[REPO])


@pytest.fixture(scope="module")
def demo():
    return _plan(demo_config())


@pytest.fixture(scope="module")
def thesis(tmp_path_factory):
    return _plan(_config("thesis.yaml"), tmp_path_factory.mktemp("thesis"))


@pytest.fixture(scope="module")
def paper(tmp_path_factory):
    return _plan(_config("paper.yaml"), tmp_path_factory.mktemp("paper"))


DEMO_VARIANTS = ["full", "gptq-4bit", "rtn-4bit", "bnb-nf4", "sparsegpt-2of4", "ah-80"]


def test_demo_plans_every_tuple_on_the_laptop(demo):
    variants = DEMO_VARIANTS
    assert demo.tuples == [Tuple("smollm2-135m", v, "laptop-cpu") for v in variants]
    assert demo.left_out == []
    assert demo.evaluated == [("smollm2-135m", v) for v in variants]
    assert demo.needs_punkt and demo.quality_measured and demo.energy_enabled


def test_demo_paths_are_those_of_earlier_runs(demo):
    paths = demo.paths
    assert paths == Paths(results="results", resources="resources", logs="results/logs")
    assert paths.checkpoint() == "results/checkpoints/{model}/{variant}"
    assert paths.checkpoint("m", "v") == "results/checkpoints/m/v"
    assert paths.quality("m", "v") == "results/quality/m/v.json"
    assert paths.energy("m", "v", "s") == "results/energy/m/v/s"
    assert paths.model("m") == "resources/models/m"
    assert demo.prefetch_record == "resources/prefetch/demo.json"
    assert paths.log("compress", "{model}", "{variant}") == "results/logs/compress/{model}/{variant}.log"
    assert paths.log("carbon") == "results/logs/carbon.log"


def test_demo_targets(demo):
    targets = demo.all_targets()
    n = len(DEMO_VARIANTS)
    assert targets[:n] == [f"results/checkpoints/smollm2-135m/{v}" for v in DEMO_VARIANTS]
    for table in ("compression", "quality", "energy", "carbon", "tradeoff", "relative_change",
                  "feasibility"):
        assert f"results/tables/{table}.csv" in targets
    assert "results/energy/smollm2-135m/bnb-nf4/laptop-cpu" in targets
    assert "results/figures/carbon_bubbles_smollm2-135m.svg" in targets
    assert "results/figures/quality_vs_energy.png" in targets
    # checkpoints, compression table, quality files and table, replays, the two scenarios'
    # folders and tables, the other tables (summary, recommendation and study footprint
    # among them), figures, the report's front page
    assert len(targets) == len(set(targets)) == n + 1 + n + 1 + n + 2 * n + 2 + 8 + 14 + 1
    assert "results/report/front_page.rst" in targets


def test_demo_lists_the_companion_papers_figures(demo):
    stems = demo.figure_stems()
    # the demo's earlier figures unchanged, in their order, then the paper's
    assert stems == ["carbon_bubbles_smollm2-135m", "energy_components", "relative_change",
                     "feasibility", "quality_vs_energy", "paper_change_smollm2-135m",
                     "opt_scores"]
    targets = demo.all_targets()
    for ext in ("png", "svg"):
        assert f"results/figures/paper_change_smollm2-135m.{ext}" in targets
        assert f"results/figures/opt_scores.{ext}" in targets


def test_without_energy_there_is_no_trade_off_table_nor_paper_figure(tmp_path):
    config = demo_config()
    config["energy"]["enabled"] = False
    plan = _plan(config, tmp_path)
    assert plan.report_targets() == ["results/tables/feasibility.csv"]
    assert not any(s.startswith(("paper_change_", "opt_scores")) for s in plan.figure_stems())


def test_energy_estimate_note_names_the_fixed_power(tmp_path):
    assert _plan(demo_config(), tmp_path).energy_estimate_note is None
    config = demo_config()
    config["energy"]["tracker"]["force_cpu_power_w"] = 15
    note = _plan(config, tmp_path).energy_estimate_note
    assert "CPU power fixed at 15 W" in note and "energy.tracker.force_cpu_power_w" in note


def test_demo_job_parameters_and_resources(demo):
    wildcards = SimpleNamespace(model="smollm2-135m", variant="gptq-4bit", setup="laptop-cpu")
    assert demo.variant_spec("gptq-4bit")["group_size"] == 64
    assert list(demo.variant_spec("gptq-4bit")) == sorted(demo.variant_spec("gptq-4bit"))
    assert demo.runtime_setup("laptop-cpu") == {"cpus": 2, "device": "cpu", "gpu_memory_gb": None,
                                                "gpu_model": None, "mem_gb": 8}
    resources = demo.resources("measure_energy")
    assert resources["energy_exclusive"](wildcards) == 100
    assert resources["mem_mb"](wildcards, 1) == 8192
    assert resources["mem_mb"](wildcards, 2) == 12288  # more memory on a retry
    assert resources["gpu"](wildcards) == 0 and resources["slurm_partition"](wildcards) == ""
    assert demo.threads_of("measure_energy")(wildcards) == 2
    compress = demo.resources("compress")
    assert compress["energy_exclusive"](wildcards) == 1
    reference = SimpleNamespace(model="smollm2-135m", variant="full", setup="laptop-cpu")
    assert compress["energy_exclusive"](reference) == 0  # bookkeeping only
    assert demo.threads_of("compress")(reference) == 1
    assert compress["runtime"](wildcards, 2) >= 2 * compress["runtime"](wildcards, 1) - 1
    with pytest.raises(ValueError):
        demo.resources("carbon")


def test_local_schedule_shares_cores_between_model_jobs_but_never_a_measurement(demo):
    """make demo's LOCAL_THREADS gives one core to the model jobs that do not measure, and the
    priorities start compression before quality before measurements."""
    from llm_footprint.plan.job_resources import MEASURING_RULES, MODEL_RULES

    makefile = (REPO / "Makefile").read_text(encoding="utf-8")
    line = next(x for x in makefile.splitlines() if x.startswith("LOCAL_THREADS ?="))
    flags = line.split("?=", 1)[1].split()
    assert flags[0] == "--set-threads"
    overridden = dict(item.split("=") for item in flags[1:])
    assert set(overridden) == set(MODEL_RULES) - set(MEASURING_RULES)
    assert set(overridden.values()) == {"1"}
    assert tuple(conftest.LOCAL_THREADS) == tuple(flags)  # the tests' demo run schedules alike
    model = next(iter(demo.config["models"]))
    variants = list(demo.config["variants"])

    def priorities(rule):
        if rule == "measure_energy":
            return {None: demo.priority_of(rule)}
        of_job = demo.priority_of(rule)
        return {v: of_job(SimpleNamespace(model=model, variant=v)) for v in variants}

    compress, evaluate, measure = (priorities(r) for r in ("compress", "evaluate",
                                                            "measure_energy"))
    # every compression before every quality job, every quality job before a measurement
    assert min(compress.values()) > max(evaluate.values()) > max(measure.values())
    # within a tier the longest expected job first: GPTQ and SparseGPT compress longest, and
    # on the demo's CPU the GPTQModel kernel's checkpoints evaluate longest, then NF4's
    assert set(sorted(compress, key=compress.get)[-2:]) == {"gptq-4bit", "sparsegpt-2of4"}
    assert evaluate["gptq-4bit"] == evaluate["rtn-4bit"] > evaluate["bnb-nf4"] > evaluate["full"]
    assert evaluate["full"] == evaluate["sparsegpt-2of4"] == evaluate["ah-80"]


def test_thesis_plans_its_twelve_energy_tuples(thesis):
    assert len(thesis.tuples) == 12
    left = {o.tuple: o for o in thesis.left_out}
    assert set(left) == {Tuple(m, "full", "a100-40gb") for m in thesis.study.models}
    assert {o.reason for o in left.values()} == {"excluded"}
    # the two 16-bit models that do not fit 40 GB are noted as such
    assert "would not fit" in left[Tuple("llama-30b", "full", "a100-40gb")].detail
    assert "would not fit" not in left[Tuple("llama-7b", "full", "a100-40gb")].detail
    # quality and compression are untouched by the 40 GB setup's selection
    assert len(thesis.evaluated) == 8 and len(thesis.checkpoints) == 8
    assert thesis.paths.results == "results/thesis"
    assert thesis.paths.logs == "results/thesis/logs"
    assert len(thesis.energy_dirs()) == 12


def test_thesis_without_its_exclusion_leaves_out_what_does_not_fit(tmp_path):
    config = _config("thesis.yaml")
    config["study"]["exclude"] = []
    plan = _plan(config, tmp_path)
    assert len(plan.tuples) == 14
    assert sorted(plan.infeasible) == [Tuple("llama-30b", "full", "a100-40gb"),
                                       Tuple("mistral-small-3", "full", "a100-40gb")]
    assert plan.excluded == []


def test_thesis_time_requests_stay_within_the_margin(thesis):
    jobs = thesis.gpu_jobs()
    assert {j["rule"] for j in jobs} == {"compress", "evaluate", "measure_energy"}
    assert sum(1 for j in jobs if j["rule"] == "compress") == 4  # gptq only: none is bookkeeping
    requested = sum(j["minutes"] * j["gpus"] for j in jobs) / 60
    windows = sum(j["window_minutes"] for j in jobs if j["window_minutes"]) / 60
    assert windows == 48.0
    assert requested <= 1.3 * windows, (requested, windows)
    energy = [j for j in jobs if j["rule"] == "measure_energy"]
    assert all(j["minutes"] >= j["window_minutes"] * (1 + cluster_estimates.TIME_MARGIN) for j in energy)
    report = cluster.plan(REPO / "configs" / "thesis.yaml")
    assert "requested / measurement windows: 1.2" in report
    assert "left out (excluded): llama-7b/full/a100-40gb" in report


def test_thesis_jobs_go_to_their_setups_partition(thesis):
    on_40 = SimpleNamespace(model="llama-7b", variant="gptq-4bit", setup="a100-40gb")
    energy = thesis.resources("measure_energy")
    assert energy["slurm_partition"](on_40) == "a100-40gb"
    assert energy["gpu"](on_40) == 1 and energy["gpu_model"](on_40) == "a100"
    evaluate = thesis.resources("evaluate")
    assert evaluate["slurm_partition"](on_40) == "a100-80gb"  # the default setup
    reference = SimpleNamespace(model="llama-7b", variant="full", setup="a100-80gb")
    assert thesis.resources("compress")["gpu"](reference) == 0
    assert thesis.resources("compress")["slurm_partition"](reference) == "a100-80gb"


def test_paper_plans_the_papers_matrix(paper):
    """Basic models x every technique and Table 1's pruning + quantization chains (OPT without
    head pruning) on both setups; advanced models as published; what does not fit the 12 GB
    workstation is left out as infeasible."""
    basic = ("gpt2", "gpt2-large", "gpt2-xl", "distilgpt2", "opt-125m", "opt-1.3b")
    variants = {t.variant for t in paper.tuples}
    chains = {"ah90-8bit", "ah80-8bit", "ah90-4bit", "ah80-4bit"}
    # the baselines and deployed formats beside the paper's matrix, as extra rows
    extra = {"rtn-4bit", "gptq-4bit", "awq-4bit", "gguf-q4_k_m", "magnitude-2of4"}
    assert variants == {"full", "bnb-8bit", "bnb-4bit", "ah-90", "ah-80", "sparsegpt-2of4",
                        *chains, *extra}
    assert paper.method("rtn-4bit").name == "rtn" and not paper.method("rtn-4bit").needs_calibration
    for chain in chains:
        assert paper.compress_spec(chain)["chain"] == ["head_prune", "bnb"]
    # the two pruning thresholds are computed once per model, shared by 8 and 4 bits
    assert len(paper.step_dirs()) == 2 * 4
    assert all(t.variant == "full" for t in paper.tuples if t.model.startswith("adv-"))
    assert not [t for t in paper.tuples if t.model.startswith("opt-") and "ah" in t.variant]
    gpt2_tuples = [t for t in paper.tuples if t.model in basic[:4]]
    assert len(gpt2_tuples) == 4 * (10 + len(extra)) * 2
    infeasible = set(paper.infeasible)
    assert ("adv-teacher-opt-13b", "full", "rtx-4070-ti") in infeasible
    assert all(t.setup == "rtx-4070-ti" for t in infeasible)
    assert paper.study.teachers["distilgpt2"] == "gpt2"
    assert paper.study.teachers["adv-sheared-llama-1.3b"] == "adv-llama-2-7b"
    assert paper.scenarios == ["fixed_workload", "saturated"]
    assert paper.tradeoff_energy_table == "results/paper/tables/fixed_workload.csv"
    assert not paper.needs_punkt
    assert paper.prefetch["datasets"][0]["dataset"] == "Salesforce/wikitext"
    assert "results/paper/figures/carbon_bubbles_distilgpt2.png" in paper.all_targets()


def test_imported_study_plans_tables_only():
    plan = _plan(_config("thesis-published.yaml"))
    assert plan.imported and plan.tuples == [] and plan.models == []
    assert plan.checkpoint_dirs() == [] and plan.energy_dirs() == []
    assert plan.measurement_file("energy").endswith(".csv")
    assert len([t for t in plan.all_targets() if "carbon_bubbles" in t]) == 8


def test_include_and_exclude_patterns():
    study = {"include": [{"setup": "a100-*"}], "exclude": [{"model": "llama-*", "variant": "full"}]}
    assert selection_problem(study, Tuple("llama-7b", "full", "a100-80gb")) == "matches study.exclude[0]"
    assert selection_problem(study, Tuple("llama-7b", "gptq", "a100-80gb")) is None
    assert "study.include" in selection_problem(study, Tuple("gpt2", "full", "laptop"))
    assert selection_problem({"include": [], "exclude": []}, Tuple("a", "b", "c")) is None


def test_selection_can_drop_a_model_entirely(tmp_path):
    config = demo_config()
    config["study"]["include"] = [{"variant": "gptq-*"}]
    plan = _plan(config, tmp_path)
    assert [t.variant for t in plan.tuples] == ["gptq-4bit"]
    assert {o.reason for o in plan.left_out} == {"excluded"}
    assert len(plan.left_out) == len(DEMO_VARIANTS) - 1
    assert "results/checkpoints/smollm2-135m/full" not in plan.all_targets()


def test_excluding_changes_no_feasibility_parameters(tmp_path):
    config = demo_config()
    before = _plan(config, tmp_path).feasibility_params
    config["study"]["exclude"] = [{"variant": "full"}]
    assert _plan(config, tmp_path).feasibility_params == before


def test_partition_check_can_be_skipped(thesis, monkeypatch):
    calls = []
    monkeypatch.setattr(cluster_estimates, "cluster_partitions", lambda: calls.append(1) or {"other"})
    thesis.check_cluster(environ={"LLM_FOOTPRINT_SKIP_PARTITION_CHECK": "1"})
    assert calls == []
    with pytest.raises(ValueError, match="a100-80gb"):
        thesis.check_cluster(environ={})


def test_hf_cache_is_set_only_when_asked_and_not_over_the_users(demo):
    environ = {}
    assert demo.use_hf_cache(environ).endswith("resources/hf_cache")
    assert demo.use_hf_cache({"HF_HOME": "/mine"}) == "/mine"


def test_punkt_tables_are_planned_only_for_ifeval(demo, tmp_path):
    """A study without IFEval needs no NLTK data (a GPU node without the punkt package ran
    into this)."""
    assert demo.needs_punkt
    config = demo_config()
    config["quality"]["tasks"] = [t for t in config["quality"]["tasks"] if t["name"] != "ifeval"]
    plan = _plan(config, tmp_path)
    assert not plan.needs_punkt and len(plan.evaluated) == len(DEMO_VARIANTS)


def _chain_study():
    config = demo_config()
    distill = {"method": "distill", "steps": 2, "keep_every": 3}
    config["variants"]["kd-ah90"] = {"method": "chain",
                                     "steps": [distill, {"method": "head_prune", "threshold": 0.9}]}
    config["variants"]["kd-ah80"] = {"method": "chain",
                                     "steps": [distill, {"method": "head_prune", "threshold": 0.8}]}
    return config


def test_chains_share_their_common_prefix():
    plan = Plan.from_config(_chain_study(), SCHEMA, search_dirs=[REPO])
    steps = plan.step_dirs()
    assert len(steps) == 1 and steps[0].startswith("results/steps/smollm2-135m/1-distill-")
    key = steps[0].rsplit("/", 1)[1]
    # both chains' last step reads the one distilled student
    assert plan.compress_source("smollm2-135m", "kd-ah90") == steps[0]
    assert plan.compress_source("smollm2-135m", "kd-ah80") == steps[0]
    assert plan.step_source("smollm2-135m", key) == "resources/models/smollm2-135m"
    assert plan.compress_spec("kd-ah80")["method"] == "head_prune"
    assert plan.compress_spec("kd-ah80")["chain"] == ["distill", "head_prune"]
    assert plan.compress_source("smollm2-135m", "gptq-4bit") == "resources/models/smollm2-135m"
    jobs = [j["rule"] for j in plan.gpu_jobs()]
    assert jobs.count("compress_step") == 1


def test_chain_in_an_invalid_order_is_refused_naming_the_step():
    config = _chain_study()
    config["variants"]["bad"] = {"method": "chain", "steps": [
        {"method": "gptq", "bits": 4, "group_size": 64}, {"method": "head_prune"}]}
    with pytest.raises(ConfigError) as caught:
        Plan.from_config(config, SCHEMA, search_dirs=[REPO])
    assert caught.value.key == "variants.bad.steps[1].method"
    assert "cannot take the checkpoint of gptq" in str(caught.value)


def test_chain_step_keys_are_validated_like_a_variants():
    config = _chain_study()
    config["variants"]["kd-ah90"]["steps"][1]["threshold"] = 1.5
    with pytest.raises(ConfigError) as caught:
        Plan.from_config(config, SCHEMA, search_dirs=[REPO])
    assert caught.value.key == "variants.kd-ah90.steps[1].threshold"
