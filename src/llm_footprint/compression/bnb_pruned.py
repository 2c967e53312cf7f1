"""bitsandbytes quantization of a head-pruned model (the paper's "8-Bit, 90 % AH" rows).

transformers quantizes with bitsandbytes while it loads a checkpoint, and builds the model from
its config.json, which has one head count for every layer; a head-pruned model has its own per
layer. So the pruned model is built by head_prune's loader and its linear layers are swapped
for bitsandbytes modules here, in memory, with the same settings BitsAndBytesConfig would use
(4-bit codes in blocks of 64, LLM.int8 rows with one absmax each; ``lm_head`` and embeddings
kept unquantized, as transformers keeps them). The quantized tensors are saved under the names
bitsandbytes' own ``state_dict`` gives them, so the checkpoint's size and bits per weight are
read as for any bnb checkpoint, and ``load`` rebuilds the same modules from those bytes
without quantizing again.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from . import head_prune

WEIGHTS_FILE = "model.safetensors"
# kept in the compute dtype, as transformers' bitsandbytes integration keeps them
NOT_QUANTIZED = ("lm_head",)


def _linear_layers(model: Any) -> list[tuple[str, Any, Any]]:
    """(name, parent, module) of every nn.Linear and GPT-2 Conv1D to quantize."""
    import torch
    from transformers.pytorch_utils import Conv1D

    found = []
    for name, module in model.named_modules():
        if isinstance(module, (torch.nn.Linear, Conv1D)) and name.split(".")[-1] not in \
                NOT_QUANTIZED and not type(module).__module__.startswith("bitsandbytes"):
            parent = model.get_submodule(name.rsplit(".", 1)[0]) if "." in name else model
            found.append((name, parent, module))
    return found


def _shape(module: Any) -> tuple[int, int, bool]:
    """(in_features, out_features, has bias); Conv1D stores its weight as input x output."""
    import torch

    if isinstance(module, torch.nn.Linear):
        return module.in_features, module.out_features, module.bias is not None
    return module.weight.shape[0], module.weight.shape[1], True


def _empty_module(chosen: dict[str, Any], in_f: int, out_f: int, bias: bool,
                  torch_dtype: Any) -> Any:
    import bitsandbytes as bnb

    if chosen["bits"] == 8:
        return bnb.nn.Linear8bitLt(in_f, out_f, bias=bias, has_fp16_weights=False,
                                   threshold=chosen["llm_int8_threshold"])
    return bnb.nn.Linear4bit(in_f, out_f, bias=bias, compute_dtype=torch_dtype,
                             compress_statistics=chosen["double_quant"],
                             quant_type=chosen["quant_type"])


def quantize(model: Any, chosen: dict[str, Any], torch_dtype: Any, device: str) -> int:
    """Swap every linear layer but ``lm_head`` for a bitsandbytes one, quantizing its weight
    on ``device``; returns the number of layers quantized."""
    import bitsandbytes as bnb
    import torch

    layers = _linear_layers(model)
    for name, parent, module in layers:
        in_f, out_f, bias = _shape(module)
        weight = module.weight.data if isinstance(module, torch.nn.Linear) \
            else module.weight.data.t()
        weight = weight.to(torch_dtype).contiguous()
        new = _empty_module(chosen, in_f, out_f, bias, torch_dtype)
        if chosen["bits"] == 8:
            new._parameters["weight"] = bnb.nn.Int8Params(
                weight.cpu(), requires_grad=False, has_fp16_weights=False).to(device)
        else:
            new._parameters["weight"] = bnb.nn.Params4bit(
                weight, requires_grad=False, quant_type=chosen["quant_type"],
                compress_statistics=chosen["double_quant"], module=new).to(device)
        if bias:
            new.bias = torch.nn.Parameter(module.bias.data.to(torch_dtype).to(device),
                                          requires_grad=False)
        setattr(parent, name.rsplit(".", 1)[-1], new)
    if not layers:
        raise ValueError("no linear layer to quantize")
    return len(layers)


def save_state(model: Any, folder: Path) -> None:
    """The model's tensors, quantized ones with their bitsandbytes state, as safetensors."""
    from safetensors.torch import save_file

    state = {name: tensor.detach().cpu().contiguous()
             for name, tensor in model.state_dict().items()}
    if getattr(model.config, "tie_word_embeddings", False):
        state.pop("lm_head.weight", None)  # the input embedding's tensor, tied on load
    save_file(state, str(Path(folder) / WEIGHTS_FILE), metadata={"format": "pt"})


def load(source: Path, manifest: dict[str, Any], chosen: dict[str, Any], torch_dtype: Any,
         device: str) -> Any:
    """The head-pruned, quantized model saved by ``save_state``, on ``device``."""
    import bitsandbytes as bnb
    from transformers import AutoConfig

    from .base import device_string

    config = AutoConfig.from_pretrained(source)
    model = head_prune.pruned_skeleton(config, manifest["kept_heads"], torch_dtype, source)
    state = head_prune.read_state(source)
    target = device_string(device)
    placed = set()
    for name, parent, module in _linear_layers(model):
        in_f, out_f, bias = _shape(module)
        new = _empty_module(chosen, in_f, out_f, bias, torch_dtype)
        data = state.pop(f"{name}.weight")
        if chosen["bits"] == 8:
            param = bnb.nn.Int8Params(data, requires_grad=False, has_fp16_weights=False)
            param.CB, param.SCB = data, state.pop(f"{name}.SCB")
            state.pop(f"{name}.weight_format", None)
            new._parameters["weight"] = param.to(target)
        else:
            prefix = f"{name}.weight."
            stats = {key[len(prefix):]: state.pop(key) for key in list(state)
                     if key.startswith(prefix)}
            new._parameters["weight"] = bnb.nn.Params4bit.from_prequantized(
                data, stats, requires_grad=False, device=target, module=new)
        setattr(parent, name.rsplit(".", 1)[-1], new)
        placed.add(f"{name}.weight")
    head_prune.load_checked(model, state, source, placed)
    return model.to(target).eval()
