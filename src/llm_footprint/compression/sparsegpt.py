"""Method sparsegpt: one-shot SparseGPT pruning (Frantar and Alistarh 2023), calibrated.

Decoder block by decoder block, in float32: the inputs of block 0 are captured from the
calibration texts; for each block, forward hooks accumulate H = 2 X^T X / n over the inputs X
of each of its linear layers (once for layers that read the same input: q/k/v, gate/up); each
linear weight W is then pruned column block by column block (``block_size`` columns) with the
optimal-brain-surgeon update: with the upper Cholesky factor U of H^-1 (H dampened by
``damp_percent`` times its mean diagonal), the weights of lowest w^2 / U_jj^2 are zeroed
(``N:M``: the N lowest of every M consecutive input columns of a row; unstructured:
ceil(sparsity x size) of each column block), and each pruned column's error (w - q) / U_jj is
spread over the not yet pruned columns. The block then runs again on the pruned weights to give
the next block's inputs.

The checkpoint is a plain transformers checkpoint with the zeros stored densely, so inference
runs dense: no sparse kernel is used on CPU or CUDA.
"""

from __future__ import annotations

import logging
import math
import re
import time
from pathlib import Path
from typing import Any

from .. import atomic, calibration, checkpoint_info, compute_dtype
from ..schema import ConfigError
from . import checkpoint, source
from .base import CompressJob, Loaded, Method, device_map

log = logging.getLogger(__name__)

DEFAULT_SPARSITY = 0.5
_NM = re.compile(r"^(\d+):(\d+)$")
BITS = {"float32": 32.0, "bfloat16": 16.0, "float16": 16.0, "F32": 32.0, "BF16": 16.0,
        "F16": 16.0}


class NotSparseEnough(RuntimeError):
    """A pruned layer does not show the sparsity it was pruned to."""


def parse_structure(key: str, variant: dict[str, Any]) -> tuple[int, int, float]:
    """(N, M, sparsity): N zeros in every M weights, or (0, 0, ratio) for unstructured."""
    structure = variant.get("structure", "2:4")
    sparsity = variant.get("sparsity")
    if structure == "unstructured":
        return 0, 0, DEFAULT_SPARSITY if sparsity is None else float(sparsity)
    match = _NM.match(str(structure))
    if not match:
        raise ConfigError(f"{key}.structure", f"{structure!r} is neither 'N:M' nor unstructured")
    n, m = int(match.group(1)), int(match.group(2))
    if not 0 < n < m:
        raise ConfigError(f"{key}.structure",
                          f"{structure!r}: N:M prunes N of every M weights and needs 0 < N < M")
    if sparsity is not None:
        raise ConfigError(f"{key}.sparsity", f"applies to structure unstructured only "
                                             f"(structure {structure} fixes it at {n}/{m})")
    return n, m, n / m


def prune_linear(weight: Any, hessian: Any, n: int, m: int, sparsity: float, block_size: int,
                 damp_percent: float) -> Any:
    """SparseGPT on one weight matrix (rows: outputs, columns: inputs); float32 in and out."""
    import torch

    W = weight.detach().clone().float()
    H = hessian.clone()
    columns = W.shape[1]
    dead = torch.diag(H) == 0
    H[dead, dead] = 1
    W[:, dead] = 0
    H += damp_percent * torch.mean(torch.diag(H)) * torch.eye(columns, dtype=H.dtype)
    U = torch.linalg.cholesky(torch.cholesky_inverse(torch.linalg.cholesky(H)), upper=True)
    for i1 in range(0, columns, block_size):
        i2 = min(i1 + block_size, columns)
        count = i2 - i1
        W1 = W[:, i1:i2].clone()
        Q1 = torch.zeros_like(W1)
        Err1 = torch.zeros_like(W1)
        U1 = U[i1:i2, i1:i2]
        d = torch.diag(U1)
        if n == 0:
            score = W1 ** 2 / d.reshape(1, -1) ** 2
            k = math.ceil(score.numel() * sparsity)
            mask1 = torch.zeros(score.numel(), dtype=torch.bool)
            mask1[torch.topk(score.flatten(), k, largest=False).indices] = True
            mask1 = mask1.reshape(score.shape)
        else:
            mask1 = torch.zeros_like(W1, dtype=torch.bool)
        for i in range(count):
            w = W1[:, i]
            if n and i % m == 0:
                score = W1[:, i:i + m] ** 2 / d[i:i + m].reshape(1, -1) ** 2
                mask1.scatter_(1, i + torch.topk(score, n, dim=1, largest=False).indices, True)
            q = w.clone()
            q[mask1[:, i]] = 0
            Q1[:, i] = q
            err = (w - q) / U1[i, i]
            W1[:, i:] -= err.unsqueeze(1) @ U1[i, i:].unsqueeze(0)
            Err1[:, i] = err
        W[:, i1:i2] = Q1
        W[:, i2:] -= Err1 @ U[i1:i2, i2:]
    return W


def layer_sparsity(weight: Any, n: int, m: int) -> dict[str, Any]:
    """Zeros of a pruned weight, and for N:M whether every group of M holds at least N."""
    zeros = weight == 0
    record = {"sparsity": round(float(zeros.float().mean()), 6)}
    if n:
        per_group = zeros.reshape(weight.shape[0], -1, m).sum(dim=2)
        record["groups_with_n_zeros"] = round(float((per_group >= n).float().mean()), 6)
        record["groups_with_exactly_n_zeros"] = round(float((per_group == n).float().mean()), 6)
    return record


def check_layer(name: str, record: dict[str, Any], n: int, sparsity: float) -> None:
    if n:
        if record["groups_with_n_zeros"] < 1.0:
            raise NotSparseEnough(f"{name}: {1 - record['groups_with_n_zeros']:.2%} of its "
                                  f"groups hold fewer than {n} zeros")
    elif record["sparsity"] + 1e-9 < sparsity:
        raise NotSparseEnough(f"{name}: sparsity {record['sparsity']:.4f} < {sparsity}")


def _decoder_layers(model: Any) -> Any:
    inner = getattr(model, "model", None)
    layers = getattr(inner, "layers", None)
    if layers is None:
        raise ValueError(f"{type(model).__name__}: no decoder layers at model.model.layers; "
                         f"method sparsegpt supports Llama-style decoders")
    return layers


class _Captured(Exception):
    pass


class SparseGPT(Method):
    name = "sparsegpt"
    title = "SparseGPT"
    needs_calibration = True
    heavy = True
    # plain transformers checkpoints (a head-pruned model's per-layer head counts do not load
    # through transformers' from_pretrained, which this method uses)
    can_follow = ("none", "distill")
    # one pass over the calibration texts plus one OBS sweep per linear layer: about 10 min
    # + 10 min per billion parameters on a GPU (the demo model: about a minute on 2 CPU cores)
    minutes = (10.0, 10.0)

    def check(self, key: str, variant: dict[str, Any]) -> None:
        n, m, _ = parse_structure(key, variant)
        if n and variant["block_size"] % m:
            raise ConfigError(f"{key}.block_size", f"{variant['block_size']} is not a multiple "
                                                   f"of M={m} of structure {variant['structure']}")
        calibration.check_config(f"{key}.calibration", variant["calibration"])
        if variant.get("dtype", "auto") not in ("auto", "float32"):
            log.info("%s.dtype: pruning runs in float32; %s applies at inference", key,
                     variant["dtype"])

    def check_model(self, key: str, variant: dict[str, Any], model_id: str,
                    model_config: dict[str, Any]) -> None:
        n, m, _ = parse_structure(key, variant)
        if not n:
            return
        for name, width in checkpoint_info.linear_input_dims(model_config).items():
            if width % m:
                raise ConfigError(f"{key}.structure", f"model {model_id}: {name}={width} is not "
                                                      f"a multiple of M={m}")

    def compress(self, job: CompressJob) -> dict[str, Any]:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        started = time.monotonic()
        variant = job.variant
        self.check(job.key, variant)
        n, m, sparsity = parse_structure(job.key, variant)
        step = source.resolve(job.prepared_dir, self.name, self.can_follow, job.key)
        self.check_model(job.key, variant, job.model_id,
                         checkpoint_info.read_model_config(step.weights_dir))
        torch.set_num_threads(job.threads)
        seed = variant["calibration"]["seed"] if self.needs_calibration else 0
        torch.manual_seed(seed)
        tokenizer = AutoTokenizer.from_pretrained(step.weights_dir)
        examples, calibration_record = (
            calibration.build(variant["calibration"], tokenizer, f"{job.key}.calibration",
                              calibration.SPARSEGPT_PAPER)
            if self.needs_calibration else (None, None))
        stored_dtype = step.prepared.get("dtype") or "float32"
        model = AutoModelForCausalLM.from_pretrained(step.weights_dir, dtype=torch.float32,
                                                     device_map={"": "cpu"})
        model.eval()
        model.config.use_cache = False
        with torch.no_grad():
            layers_report, pruned = self._prune(model, examples, n, m, sparsity, variant)
        prune_s = time.monotonic() - started
        if stored_dtype in ("bfloat16", "float16"):
            model.to(compute_dtype.torch_dtype(stored_dtype))
        structure = f"{n}:{m}" if n else "unstructured"
        with atomic.staged_directory(job.out_dir) as staging:
            model.save_pretrained(staging)
            tokenizer.save_pretrained(staging)
            atomic.write_json(staging / checkpoint.MANIFEST_FILE, {
                "method": self.name, "model": job.model_id, "variant": job.variant_id,
                "weights_dir": ".", "dtype": variant.get("dtype", "auto"),
                "structure": structure, "sparsity": sparsity, "pruned_tensors": pruned,
            })
            choice = compute_dtype.resolve(variant.get("dtype", "auto"), job.device,
                                           key=f"{job.key}.dtype", checkpoint_dtype=stored_dtype)
            zeros = sum(r["zeros"] for r in layers_report.values())
            total = sum(r["elements"] for r in layers_report.values())
            summary = checkpoint.summary(
                job.model_id, job.variant_id, variant, step.prepared,
                checkpoint_info.size_on_disk_mb(staging), time.monotonic() - started,
                job.device, compute_dtype=choice.dtype, compute_dtype_reason=choice.reason,
                pruning_dtype="float32", stored_dtype=stored_dtype,
                threads=job.threads, seed=seed,
                prune_time_s=round(prune_s, 3), input_after_step=step.after,
                structure=structure, target_sparsity=sparsity,
                block_size=variant.get("block_size"),
                damp_percent=variant.get("damp_percent"),
                calibration=calibration_record,
                pruned_layers=len(pruned), pruned_elements=total, pruned_zeros=zeros,
                measured_sparsity=round(zeros / total, 6),
                sparsity_per_layer={k: {kk: vv for kk, vv in r.items()
                                        if kk not in ("zeros", "elements")}
                                    for k, r in layers_report.items()},
                sparse_kernel=("none (dense on CPU)" if job.device == "cpu"
                               else "none (dense)"),
                what=(f"{self.title} {structure} pruning of {len(pruned)} linear layers "
                      f"(sparsity {zeros / total:.4f}); embeddings, norms and lm_head kept"))
            atomic.write_json(staging / checkpoint.SUMMARY_FILE, summary)
        log.info("saved %s/%s: %.1f MB, sparsity %.4f, in %.0f s", job.model_id,
                 job.variant_id, summary["size_on_disk_mb"], summary["measured_sparsity"],
                 summary["wall_time_s"])
        return summary

    def _prune(self, model: Any, examples: list[dict[str, Any]], n: int, m: int,
               sparsity: float, variant: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
        import torch

        layers = _decoder_layers(model)
        captured: list[tuple[Any, dict[str, Any]]] = []

        def capture(module: Any, args: tuple, kwargs: dict[str, Any]) -> None:
            captured.append((args[0] if args else kwargs.pop("hidden_states"),
                             {k: v for k, v in kwargs.items() if k != "hidden_states"}))
            raise _Captured

        handle = layers[0].register_forward_pre_hook(capture, with_kwargs=True)
        try:
            for example in examples:
                try:
                    model(torch.tensor([example["input_ids"]]), use_cache=False)
                except _Captured:
                    pass
        finally:
            handle.remove()
        inputs = [hidden for hidden, _ in captured]
        kwargs_per_sample = [kwargs for _, kwargs in captured]
        report: dict[str, Any] = {}
        pruned: list[str] = []
        prefix = next(name for name, module in model.named_modules() if module is layers)
        for index, layer in enumerate(layers):
            started = time.monotonic()
            linears = {name: module for name, module in layer.named_modules()
                       if isinstance(module, torch.nn.Linear)}
            hessians = {name: torch.zeros(mod.in_features, mod.in_features)
                        for name, mod in linears.items()}
            counts = dict.fromkeys(linears, 0)
            # linears called one after another on the same input tensor (q/k/v, gate/up)
            # share one Hessian: 2 X^T X is computed once for them
            shares: dict[str, str] = {}
            previous: dict[str, Any] = {"input": None, "name": None}

            def accumulate(name: str):
                def hook(module: Any, args: tuple, output: Any) -> None:
                    if args[0] is previous["input"]:
                        shares[name] = previous["name"]
                        return
                    previous.update(input=args[0], name=name)
                    x = args[0].detach().float().reshape(-1, module.in_features)
                    rows = x.shape[0]
                    total = counts[name] + rows
                    hessians[name] *= counts[name] / total
                    x = math.sqrt(2 / total) * x
                    hessians[name] += x.t() @ x
                    counts[name] = total
                return hook

            handles = [mod.register_forward_hook(accumulate(name))
                       for name, mod in linears.items()]
            try:
                for hidden, kwargs in zip(inputs, kwargs_per_sample):
                    layer(hidden, **kwargs)
            finally:
                for h in handles:
                    h.remove()
                previous["input"] = None  # the last input is not kept alive
            for name, module in linears.items():
                module.weight.data = prune_linear(
                    module.weight.data, hessians[shares.get(name, name)], n, m, sparsity,
                    variant["block_size"], variant["damp_percent"]).to(module.weight.dtype)
                full = f"{prefix}.{index}.{name}.weight"
                record = layer_sparsity(module.weight.data, n, m)
                check_layer(full, record, n, sparsity)
                record.update(zeros=int((module.weight.data == 0).sum()),
                              elements=module.weight.numel())
                report[full] = record
                pruned.append(full)
            outputs = []
            for hidden, kwargs in zip(inputs, kwargs_per_sample):
                out = layer(hidden, **kwargs)
                outputs.append(out[0] if isinstance(out, tuple) else out)
            inputs = outputs
            log.info("sparsegpt: block %d/%d pruned (%d linear layers) in %.1f s", index + 1,
                     len(layers), len(linears), time.monotonic() - started)
        return report, pruned

    def load(self, source_dir: Path, manifest: dict[str, Any], device: str, dtype: str,
             threads: int | None) -> Loaded:
        from transformers import AutoModelForCausalLM, AutoTokenizer

        model = AutoModelForCausalLM.from_pretrained(
            source_dir, dtype=compute_dtype.torch_dtype(dtype), device_map=device_map(device))
        return Loaded(model, AutoTokenizer.from_pretrained(source_dir), {
            "loader": "transformers",
            "sparse_kernel": "none (dense on CPU)" if device == "cpu" else "none (dense)"})

    def describe(self, checkpoint_dir: Path) -> checkpoint.Description:
        stats = saved_sparsity(Path(checkpoint_dir))
        return checkpoint.Description(
            size_on_disk_mb=round(checkpoint_info.size_on_disk_mb(checkpoint_dir), 3),
            bits_per_weight=stats["bits_per_weight"], sparsity=stats["sparsity"])

    def weight_bytes(self, parameters: float, variant: dict[str, Any], arch: Any,
                     checkpoint_dtype: str | None) -> float:
        dtype = variant.get("dtype", "auto")
        if dtype == "auto":
            dtype = checkpoint_dtype or "float16"
        return parameters * BITS.get(dtype, 16.0) / 8  # zeros are stored densely


def saved_sparsity(checkpoint_dir: Path) -> dict[str, Any]:
    """Zeros of the pruned tensors the manifest lists, counted in the saved files."""
    from safetensors import safe_open

    manifest = checkpoint.read_manifest(checkpoint_dir)
    wanted = set(manifest["pruned_tensors"])
    folder = checkpoint.weights_dir(checkpoint_dir, manifest)
    zeros = elements = 0
    bits = 32.0
    found = set()
    for path in checkpoint_info.weight_files(folder):
        if path.suffix != ".safetensors":
            continue
        header = checkpoint_info.safetensors_header(path)
        with safe_open(path, "pt") as handle:
            for name in wanted & set(handle.keys()):
                tensor = handle.get_tensor(name)
                zeros += int((tensor == 0).sum())
                elements += tensor.numel()
                bits = BITS.get(header[name]["dtype"], bits)
                found.add(name)
    if found != wanted:
        raise ValueError(f"{checkpoint_dir}: pruned tensors missing from the saved files: "
                         f"{sorted(wanted - found)[:5]}")
    return {"sparsity": round(zeros / elements, 6) if elements else 0.0,
            "bits_per_weight": bits, "zeros": zeros, "elements": elements}
