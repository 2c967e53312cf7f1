"""Method magnitude: magnitude pruning, the naive baseline of SparseGPT.

The same decoder linear layers as method sparsegpt lose the weights of smallest absolute value:
``N:M`` zeroes the N smallest of every M consecutive input weights of a row, unstructured the
``sparsity`` share of each layer. No calibration and no update of the weights kept, so the
difference to sparsegpt at equal structure is SparseGPT's second-order update at work. The
checkpoint is a plain transformers checkpoint with the zeros stored densely, as sparsegpt's.
Needing no calibration forward, it runs on any decoder whose blocks it can find: Llama-style
(model.layers), OPT (model.decoder.layers) and GPT-2 (transformer.h, whose Conv1D weights are
stored input-major and pruned along their input dimension all the same).
"""

from __future__ import annotations

import logging
import math
from typing import Any

from .sparsegpt import SparseGPT, check_layer, layer_sparsity, parse_structure

log = logging.getLogger(__name__)


def magnitude_mask(weight: Any, n: int, m: int, sparsity: float) -> Any:
    """True where a weight is pruned: the N smallest |w| of every M along a row's inputs, or
    the ceil(sparsity x size) smallest |w| of the matrix."""
    import torch

    magnitude = weight.detach().abs().float()
    if n:
        rows, columns = magnitude.shape
        groups = magnitude.reshape(rows, columns // m, m)
        smallest = torch.topk(groups, n, dim=2, largest=False).indices
        mask = torch.zeros_like(groups, dtype=torch.bool).scatter_(2, smallest, True)
        return mask.reshape(rows, columns)
    k = math.ceil(magnitude.numel() * sparsity)
    mask = torch.zeros(magnitude.numel(), dtype=torch.bool)
    mask[torch.topk(magnitude.flatten(), k, largest=False).indices] = True
    return mask.reshape(magnitude.shape)


class Magnitude(SparseGPT):
    name = "magnitude"
    title = "Magnitude"
    needs_calibration = False
    # one pass over the weights
    minutes = (1.0, 0.5)

    def check(self, key: str, variant: dict[str, Any]) -> None:
        parse_structure(key, variant)
        if variant.get("dtype", "auto") not in ("auto", "float32"):
            log.info("%s.dtype: pruning runs in float32; %s applies at inference", key,
                     variant["dtype"])

    def _prune(self, model: Any, examples: Any, n: int, m: int, sparsity: float,
               variant: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
        prefix, layers = decoder_blocks(model)
        report: dict[str, Any] = {}
        pruned: list[str] = []
        for index, layer in enumerate(layers):
            for name, module, rows_out in prunable(layer):
                # rows along the outputs, columns along the inputs, for both layer kinds
                weight = module.weight.data if rows_out else module.weight.data.t()
                weight[magnitude_mask(weight, n, m, sparsity)] = 0
                full = f"{prefix}.{index}.{name}.weight"
                record = layer_sparsity(weight, n, m)
                check_layer(full, record, n, sparsity)
                record.update(zeros=int((weight == 0).sum()), elements=weight.numel())
                report[full] = record
                pruned.append(full)
        log.info("magnitude: %d linear layers of %d decoder blocks pruned", len(pruned),
                 len(layers))
        return report, pruned


# where each architecture keeps its decoder blocks
BLOCK_PATHS = ("model.layers", "model.decoder.layers", "transformer.h")


def decoder_blocks(model: Any) -> tuple[str, Any]:
    """(dotted name, module list) of the model's decoder blocks."""
    for path in BLOCK_PATHS:
        found = model
        for part in path.split("."):
            found = getattr(found, part, None)
        if found is not None:
            return path, found
    raise ValueError(f"{type(model).__name__}: no decoder blocks at {', '.join(BLOCK_PATHS)}; "
                     f"method magnitude supports Llama-style, OPT and GPT-2 decoders")


def prunable(block: Any):
    """(name, module, True if its weight is output-major) of a block's linear layers."""
    import torch
    from transformers.pytorch_utils import Conv1D

    for name, module in block.named_modules():
        if isinstance(module, torch.nn.Linear):
            yield name, module, True
        elif isinstance(module, Conv1D):
            yield name, module, False
