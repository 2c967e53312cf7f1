"""Method distill on the demo model: the student's layers and parameters as the saved tensors
show them, reload, generation, perplexity, resuming after a kill, and bad keys."""

from __future__ import annotations

import copy
import json
import math
import re
from pathlib import Path

import pytest

from conftest import REPO, SCHEMA, demo_config
from llm_footprint import compression
from llm_footprint.compression import checkpoint, distill
from llm_footprint.schema import ConfigError
from llm_footprint.study import load_study

TEACHER_LAYERS = 30
KEEP_EVERY = 3
KEPT = [0, 3, 6, 9, 12, 15, 18, 21, 24, 27, 29]
LAYER = re.compile(r"^model\.layers\.(\d+)\.")

VARIANT = {"method": "distill", "dtype": "auto", "keep_every": KEEP_EVERY, "alpha": 0.5,
           "temperature": 2.0, "data": None, "steps": 4, "batch_size": 2, "max_tokens": 64,
           "learning_rate": 5e-5, "seed": 0, "checkpoint_every": 2}


def _compress(prepared: Path, out: Path, **changes) -> dict:
    return compression.compress("smollm2-135m", "distilled", {**VARIANT, **changes}, prepared,
                                out, device="cpu", threads=2)


def _tensors(folder: Path) -> dict:
    from safetensors import safe_open

    tensors = {}
    for path in sorted(folder.glob("*.safetensors")):
        with safe_open(path, framework="pt") as handle:
            for name in handle.keys():
                tensors[name] = handle.get_tensor(name)
    return tensors


@pytest.fixture(scope="module")
def distilled(demo_model_dir, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("distill") / "distilled"
    _compress(demo_model_dir, out)
    return out


def test_kept_layers_are_every_kth_and_the_last():
    assert distill.kept_layers(TEACHER_LAYERS, KEEP_EVERY) == KEPT
    assert distill.kept_layers(30, 2) == [*range(0, 30, 2), 29]
    assert distill.kept_layers(10, 3) == [0, 3, 6, 9]  # the last is already kept


def test_per_layer_config_lists_are_cut_and_the_student_reloads(tmp_path):
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    config = Qwen2Config(vocab_size=64, hidden_size=32, intermediate_size=64,
                         num_hidden_layers=4, num_attention_heads=4, num_key_value_heads=2,
                         use_sliding_window=True, sliding_window=8, max_window_layers=2)
    model = Qwen2ForCausalLM(config)
    assert distill.cut_layers(model, [0, 2, 3]) == ["layer_types"]
    assert model.config.layer_types == ["full_attention", "sliding_attention",
                                        "sliding_attention"]
    assert [layer.self_attn.layer_idx for layer in model.model.layers] == [0, 1, 2]
    model.save_pretrained(tmp_path)
    reloaded = Qwen2ForCausalLM.from_pretrained(tmp_path)
    assert reloaded.config.num_hidden_layers == 3 and len(reloaded.model.layers) == 3
    out = reloaded.generate(torch.tensor([[1, 2, 3]]), max_new_tokens=12, do_sample=False)
    assert out.shape == (1, 15)


def test_student_has_the_kept_layers_and_parameters_counted_from_the_files(distilled,
                                                                           demo_model_dir):
    from safetensors import safe_open

    teacher = {}
    for path in demo_model_dir.glob("*.safetensors"):
        with safe_open(path, framework="pt") as handle:
            teacher |= {n: handle.get_slice(n).get_shape() for n in handle.keys()}
    student = _tensors(distilled)

    def numel(shape):
        return math.prod(shape)

    removed = sum(numel(shape) for name, shape in teacher.items()
                  if (m := LAYER.match(name)) and int(m.group(1)) not in KEPT)
    student_params = sum(t.numel() for t in student.values())
    assert student_params == sum(numel(s) for s in teacher.values()) - removed
    assert {int(m.group(1)) for n in student if (m := LAYER.match(n))} == set(range(len(KEPT)))
    # the student's layer i is the trained copy of the teacher's layer KEPT[i]: same shapes
    assert all(tuple(student[n].shape) == tuple(teacher[n.replace(
        f"layers.{i}.", f"layers.{KEPT[i]}.")]) for n in student
        if (m := LAYER.match(n)) and (i := int(m.group(1))) is not None)

    config = json.loads((distilled / "config.json").read_text())
    assert config["num_hidden_layers"] == len(KEPT)
    summary = checkpoint.read_summary(distilled)
    assert summary["layers_kept"] == KEPT and summary["parameters_after"] == student_params
    assert summary["parameters_before"] == sum(numel(s) for s in teacher.values())
    assert summary["steps"] == 4 and summary["tokens_seen"] == 4 * 2 * 64
    assert math.isfinite(summary["loss_initial"]) and math.isfinite(summary["loss_final"])
    assert summary["loss_window_steps"] == 2  # first 2 and last 2 of 4 steps
    assert summary["resumed_from_step"] is None and summary["seed"] == 0

    described = compression.describe(distilled)
    on_disk = sum(p.stat().st_size for p in distilled.glob("*.safetensors")) / 1e6
    assert described.size_on_disk_mb == pytest.approx(on_disk, abs=1e-3)
    assert {str(t.dtype) for t in student.values()} == {"torch.float32"}
    assert described.bits_per_weight == 32 and described.sparsity == 0.0
    assert not distill.state_dir(distilled).exists()  # removed once published


def test_student_reloads_generates_and_has_finite_perplexity(distilled):
    import torch

    from llm_footprint.loading import load_for_inference
    from llm_footprint.quality.perplexity import token_perplexity

    loaded = load_for_inference(distilled, "cpu", threads=2)
    assert loaded.manifest["method"] == "distill" and loaded.dtype == "float32"
    assert len(loaded.model.model.layers) == len(KEPT)
    inputs = loaded.tokenizer("The capital of France is", return_tensors="pt")
    with torch.no_grad():
        generated = loaded.model.generate(**inputs, max_new_tokens=4, do_sample=False)
    assert generated.shape[1] == inputs["input_ids"].shape[1] + 4
    text = (REPO / "data/demo/quality/wikitext_style.txt").read_text(encoding="utf-8")[:2000]
    with torch.no_grad():
        result = token_perplexity(loaded.model, loaded.tokenizer, text, context_tokens=256)
    assert math.isfinite(result["token_perplexity"]) and result["token_perplexity"] > 1


def test_a_killed_run_resumes_from_its_state_and_ends_with_the_same_weights(
        distilled, demo_model_dir, tmp_path, monkeypatch):
    out = tmp_path / "distilled"

    def killed(step):
        if step == 3:
            raise KeyboardInterrupt("killed after step 3")

    monkeypatch.setattr(distill, "_on_step_done", killed)
    with pytest.raises(KeyboardInterrupt):
        _compress(demo_model_dir, out)
    import torch

    state = torch.load(distill.state_dir(out) / distill.STATE_FILE, weights_only=False)
    assert state["step"] == 2 and not out.exists()
    monkeypatch.setattr(distill, "_on_step_done", lambda step: None)
    summary = _compress(demo_model_dir, out)
    assert summary["resumed_from_step"] == 2
    assert not distill.state_dir(out).exists()
    resumed, uninterrupted = _tensors(out), _tensors(distilled)
    assert resumed.keys() == uninterrupted.keys()
    for name, tensor in uninterrupted.items():
        assert torch.allclose(resumed[name], tensor, rtol=0, atol=1e-6), name
    assert summary["loss_final"] == pytest.approx(checkpoint.read_summary(distilled)["loss_final"],
                                                  abs=1e-6)


def test_a_state_written_for_other_settings_is_not_resumed(tmp_path):
    distill._save_state(tmp_path, {"fingerprint": "other", "step": 2})
    assert distill._load_state(tmp_path, "mine") is None


def test_distill_follows_only_an_unmodified_model(demo_model_dir, tmp_path):
    none_dir = tmp_path / "full"
    compression.compress("smollm2-135m", "full", {"method": "none", "dtype": "auto"},
                         demo_model_dir, none_dir)
    source, prepared = distill.teacher_source(none_dir, "variants.d.method")
    assert source == demo_model_dir.resolve() and prepared["parameter_count"] == 134515008
    assert distill.teacher_source(demo_model_dir, "k")[0] == demo_model_dir
    quantized = tmp_path / "q"
    quantized.mkdir()
    (quantized / checkpoint.MANIFEST_FILE).write_text(json.dumps(
        {"method": "gptq", "weights_dir": "."}))
    with pytest.raises(ConfigError) as caught:
        distill.teacher_source(quantized, "variants.d.method")
    assert caught.value.key == "variants.d.method" and "cannot follow" in str(caught.value)
    assert compression.method("distill").can_follow == ("none",)


def test_weight_bytes_estimate_counts_the_kept_layers():
    from llm_footprint.feasibility import Architecture

    arch = Architecture.from_parameter_count(1e9)
    full = compression.method("none").weight_bytes(1e9, {"dtype": "float32"}, arch, "float32")
    student = compression.method("distill").weight_bytes(
        1e9, {"dtype": "float32", "keep_every": 2}, arch, "float32")
    assert 0 < student < full


def _study_with(variant: dict) -> dict:
    config = demo_config()
    config["variants"]["distilled"] = copy.deepcopy(variant)
    return config


def test_demo_config_with_a_distill_variant_gets_the_defaults():
    config = _study_with({"method": "distill"})
    load_study(config, SCHEMA, [REPO])
    variant = config["variants"]["distilled"]
    assert (variant["keep_every"], variant["alpha"], variant["temperature"], variant["steps"],
            variant["batch_size"], variant["max_tokens"], variant["learning_rate"],
            variant["seed"], variant["checkpoint_every"], variant["data"]) == (
        2, 0.5, 2.0, 50, 4, 128, 5e-5, 0, 25, None)
    assert "bits" not in variant


@pytest.mark.parametrize("key, value, words", [
    ("keep_every", 1, "minimum"),
    ("alpha", 2, "maximum"),
    ("temperature", 0, ""),
    ("steps", 0, "minimum"),
    ("bits", 4, "unknown key for method 'distill'"),
    ("data", "no/such/file.txt", "does not exist"),
    ("data", "data/demo/quality/wikitext_style.txt", "evaluation data"),
])
def test_bad_keys_are_rejected_naming_the_key(key, value, words):
    config = _study_with({"method": "distill", key: value})
    with pytest.raises(ConfigError) as caught:
        load_study(config, SCHEMA, [REPO])
    assert caught.value.key == f"variants.distilled.{key}"
    assert words in str(caught.value)


def test_keep_every_that_removes_no_layer_is_refused():
    with pytest.raises(ConfigError) as caught:
        compression.method("distill").check_model("variants.d", {"keep_every": 2}, "m",
                                                  {"num_hidden_layers": 2})
    assert caught.value.key == "variants.d.keep_every"


# A variant that *is* another model, declared with its teacher (models.<id>.teacher): its
# relative changes and trade-off are computed against the teacher's baseline variant.

def _energy_row(model, variant, kwh, busy):
    return {"model": model, "variant": variant, "setup": "s", "hardware_energy_kwh": str(kwh),
            "cpu_energy_kwh": str(kwh), "busy_time_s": str(busy)}


def _quality_row(model, variant, value):
    return {"model": model, "variant": variant, "task": "perplexity",
            "metric": "token_perplexity", "value": value, "higher_is_better": False}


TEACHERS = {"teacher": None, "student": "teacher"}
ROWS = [("teacher", "full", 10.0), ("teacher", "q4", 12.0), ("student", "full", 15.0),
        ("student", "q4", 20.0)]


def test_quality_changes_of_a_student_are_against_its_teachers_baseline():
    from llm_footprint.tables import add_baseline_columns

    rows = add_baseline_columns([_quality_row(*r) for r in ROWS], "full", TEACHERS)
    by = {(r["model"], r["variant"]): r for r in rows}
    assert by[("teacher", "full")]["relative_change_pct"] is None  # the baseline itself
    assert by[("teacher", "q4")]["relative_change_pct"] == pytest.approx(20.0)
    assert by[("student", "full")]["baseline_model"] == "teacher"
    assert by[("student", "full")]["relative_change_pct"] == pytest.approx(50.0)
    assert by[("student", "q4")]["relative_change_pct"] == pytest.approx(100.0)
    assert by[("student", "q4")]["difference_baseline_minus_variant"] == pytest.approx(-10.0)


def test_relative_change_and_tradeoff_of_a_student_are_against_its_teachers_baseline():
    from llm_footprint import tradeoff
    from llm_footprint.tables import relative_change_rows

    energy = [_energy_row("teacher", "full", 4.0, 40.0), _energy_row("student", "full", 1.0, 10.0),
              _energy_row("student", "q4", 2.0, 10.0)]
    quality = [{**_quality_row(*r), "value": str(r[2]), "higher_is_better": "False"}
               for r in ROWS]
    metrics = [{"task": "perplexity", "metric": "token_perplexity"}]
    changes = {(r["model"], r["variant"]): r for r in relative_change_rows(
        energy, quality, metrics, "full", TEACHERS)}
    student = changes[("student", "full")]
    assert student["baseline_model"] == "teacher"
    assert student["hardware_energy_change_pct"] == pytest.approx(-75.0)
    assert student["perplexity_token_perplexity_change_pct"] == pytest.approx(50.0)
    assert changes[("student", "q4")]["hardware_energy_change_pct"] == pytest.approx(-50.0)
    assert ("teacher", "full") not in changes

    settings = {"metrics": metrics, "weights": {"balanced": {"alpha": 0.5, "beta": 0.5}},
                "time_figure": "busy_time_s", "energy_figure": "hardware_energy_kwh",
                "baseline_setup": None}
    scores = {(r["model"], r["variant"]): r for r in tradeoff.tradeoff_rows(
        energy, quality, settings, "full", TEACHERS)}
    q4 = scores[("student", "q4")]
    assert q4["baseline_model"] == "teacher"
    assert q4["ec"] == pytest.approx(0.5) and q4["tc"] == pytest.approx(0.25)
    assert q4["opt_balanced"] == pytest.approx(2.0 ** 1.5 * (0.5 * 0.25 + 0.5 * 0.5))
