"""Will a (model, variant) fit a setup's device memory? Decided before anything is submitted.

estimate = weights + KV cache + activations + fixed runtime overhead, in GB (10^9 bytes):
- weights: parameters x bytes per parameter of the variant, as its compression method
  counts them (GPTQ: packed low-bit linear weights plus one fp16 scale and one packed zero
  per group; embeddings stay in 16 bits);
- KV cache: 2 (K and V) x layers x KV heads x head size x context tokens x batch x 2 bytes;
- activations: a fraction of the weights; overhead: CUDA context, kernels, allocator.
The architecture comes from the model's config.json when it is readable (a local folder or an
already prepared model); otherwise from the parameter count alone, assuming a dense
multi-head-attention transformer (P = 12 L d^2 with d = 128 L), which overestimates the KV
cache of grouped-query models: a conservative answer.

Once the energy stage has run, the table also gives the peak memory measured in that tuple's
replay job beside the estimate: the CUDA allocator's peak on a GPU, the process's peak
resident set on a CPU (which counts the Python runtime and libraries too).
"""

from __future__ import annotations

import csv
import json
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from . import atomic, compression
from .compression import chains

EMBEDDING_SHARE_WITHOUT_ARCH = 0.04  # LLaMA-7B: 2 x 32000 x 4096 of 6.7 B parameters


@dataclass
class Architecture:
    layers: int
    hidden: int
    kv_heads: int
    head_dim: int
    vocab: int
    tied_embeddings: bool
    from_config: bool

    @classmethod
    def from_config_json(cls, config: dict[str, Any]) -> "Architecture":
        config = config.get("text_config", config)
        hidden = int(config.get("hidden_size") or config.get("n_embd") or config["d_model"])
        heads = int(config.get("num_attention_heads") or config.get("n_head"))
        return cls(
            layers=int(config.get("num_hidden_layers") or config.get("n_layer")),
            hidden=hidden,
            kv_heads=int(config.get("num_key_value_heads") or heads),
            head_dim=int(config.get("head_dim") or hidden // heads),
            vocab=int(config.get("vocab_size", 32000)),
            tied_embeddings=bool(config.get("tie_word_embeddings", False)),
            from_config=True)

    @classmethod
    def from_parameter_count(cls, parameters: float) -> "Architecture":
        hidden = (parameters * 128 / 12) ** (1 / 3)
        layers = max(1, round(hidden / 128))
        return cls(layers=layers, hidden=int(hidden), kv_heads=1, head_dim=int(hidden),
                   vocab=0, tied_embeddings=False, from_config=False)

    def embedding_parameters(self, parameters: float) -> float:
        if not self.from_config:
            return parameters * EMBEDDING_SHARE_WITHOUT_ARCH
        return self.vocab * self.hidden * (1 if self.tied_embeddings else 2)


@dataclass
class Estimate:
    model: str
    variant: str
    setup: str
    device: str
    device_memory_gb: float | None
    parameter_count: float | None
    parameter_source: str
    weights_gb: float | None
    kv_cache_gb: float | None
    activations_gb: float | None
    overhead_gb: float
    estimate_gb: float | None
    headroom_gb: float | None
    fits: bool | None
    note: str
    # measured by the energy stage (empty before it has run, or for tuples it did not run)
    measured_peak_gb: float | None = None
    measured_peak_kind: str = ""


def weight_bytes(parameters: float, variant: dict[str, Any], arch: Architecture,
                 checkpoint_dtype: str | None) -> float:
    # a chain's memory is that of its last step's output (an upper bound after pruning)
    variant = chains.steps_of(variant)[-1]
    return compression.method(variant["method"]).weight_bytes(parameters, variant, arch,
                                                                checkpoint_dtype)


def kv_cache_bytes(arch: Architecture, context_tokens: int, batch_size: int) -> float:
    return 2 * arch.layers * arch.kv_heads * arch.head_dim * context_tokens * batch_size * 2.0


def model_facts(model_id: str, spec: dict[str, Any], prepared_dir: Path) -> tuple[
        float | None, str, Architecture | None, str | None]:
    """Parameter count, its source, architecture and checkpoint dtype, as far as known now."""
    provenance_file = prepared_dir / "provenance.json"
    config_dirs = [prepared_dir] + ([Path(spec["path"])] if spec.get("path") else [])
    arch = None
    checkpoint_dtype = None
    for folder in config_dirs:
        if (folder / "config.json").is_file():
            config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
            arch = Architecture.from_config_json(config)
            checkpoint_dtype = config.get("torch_dtype") or config.get("dtype")
            break
    if provenance_file.is_file():
        record = json.loads(provenance_file.read_text(encoding="utf-8"))
        if record.get("parameter_count"):
            return float(record["parameter_count"]), "prepared model", arch, record.get("dtype")
    if spec.get("params_b"):
        return spec["params_b"] * 1e9, "config params_b", arch, checkpoint_dtype
    return None, "unknown", arch, checkpoint_dtype


def estimate(model_id: str, variant_id: str, setup_id: str, spec: dict[str, Any],
             variant: dict[str, Any], setup: dict[str, Any], settings: dict[str, Any],
             prepared_dir: Path) -> Estimate:
    device = setup["device"]
    memory = setup["gpu_memory_gb"] if device == "cuda" else setup["mem_gb"]
    parameters, source, arch, checkpoint_dtype = model_facts(model_id, spec, prepared_dir)
    if parameters is None:
        return Estimate(model_id, variant_id, setup_id, device, memory, None, source, None, None,
                        None, settings["overhead_gb"], None, None, None,
                        "size unknown until the model is prepared (set models.*.params_b)")
    arch = arch or Architecture.from_parameter_count(parameters)
    weights = weight_bytes(parameters, variant, arch, checkpoint_dtype) / 1e9
    kv = kv_cache_bytes(arch, settings["context_tokens"], settings["batch_size"]) / 1e9
    activations = weights * settings["activation_fraction"]
    total = weights + kv + activations + settings["overhead_gb"]
    fits = total <= memory
    note = "" if arch.from_config else "architecture estimated from the parameter count"
    return Estimate(model_id, variant_id, setup_id, device, memory, parameters, source,
                    round(weights, 3), round(kv, 3), round(activations, 3),
                    settings["overhead_gb"], round(total, 3), round(memory - total, 3), fits, note)


def study_estimates(config: dict[str, Any]) -> list[Estimate]:
    resources = Path(config["study"]["resources_root"]) / "models"
    return [estimate(m, v, s, config["models"][m], config["variants"][v], config["setups"][s],
                     config["feasibility"], resources / m)
            for m in config["models"] for v in config["variants"] for s in config["setups"]]


MEASURED_PEAK_COLUMNS = {"cuda": ("peak_gpu_allocated_mb", "cuda_allocator_peak"),
                         "cpu": ("peak_rss_mb", "process_peak_rss")}


def with_measured_peaks(estimates: list[Estimate],
                        energy_csv: str | Path | None) -> list[Estimate]:
    """The estimates with the peak memory the energy stage measured for the same tuple."""
    if not energy_csv or not Path(energy_csv).is_file():
        return estimates
    with open(energy_csv, newline="", encoding="utf-8") as handle:
        rows = {(r.get("model"), r.get("variant"), r.get("setup")): r
                for r in csv.DictReader(handle)}
    measured = []
    for e in estimates:
        row = rows.get((e.model, e.variant, e.setup))
        column, kind = MEASURED_PEAK_COLUMNS.get(e.device, (None, ""))
        value = row.get(column) if row and column else None
        if value not in (None, ""):
            e = replace(e, measured_peak_gb=round(float(value) * 2**20 / 1e9, 3),
                        measured_peak_kind=kind)
        measured.append(e)
    return measured


def write_table(estimates: list[Estimate], out_csv: str | Path,
                energy_csv: str | Path | None = None) -> None:
    atomic.write_csv(out_csv, [asdict(e) for e in with_measured_peaks(estimates, energy_csv)],
                     list(Estimate.__dataclass_fields__))
