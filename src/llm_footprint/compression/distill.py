"""Method distill: a shallower student trained from its teacher by knowledge distillation.

The student starts as a copy of the teacher (the prepared model, or the plain checkpoint of an
earlier step of method none) that keeps every ``keep_every``-th decoder layer: layers
0, k, 2k, ... below the layer count, plus always the last layer (k = 3 on a 30-layer model keeps
0, 3, ..., 27 and 29). Embeddings, the final norm and the LM head are kept whole. The student
is then trained for ``steps`` AdamW steps on packed token sequences of a text with

    loss = alpha * T^2 * KL(teacher || student)  on logits softened by temperature T
         + (1 - alpha) * cross-entropy of the student on the next token,

both averaged over token positions. Training runs in float32 on CPU; on CUDA the student's
weights stay in float32 and the forward passes run under autocast in the compute dtype that
``compute_dtype.resolve`` picks. Every ``checkpoint_every`` steps the student, the optimizer,
the RNG states and the step are saved in ``<out_dir>.distill-state/`` beside the output, and a
restarted job resumes from there; the folder is removed once the checkpoint is published.

The student is saved as a plain transformers checkpoint (``num_hidden_layers`` and every
per-layer list of the config cut to the kept layers) and loads like method none.
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import random
import shutil
import time
from pathlib import Path
from typing import Any

from .. import atomic, calibration, checkpoint_info, compute_dtype
from ..schema import ConfigError
from . import checkpoint
from .base import CompressJob, Loaded, Method, device_string
from .none import NoCompression

log = logging.getLogger(__name__)

STATE_SUFFIX = ".distill-state"
STATE_FILE = "state.pt"
# the keys whose change makes a saved training state useless
TRAINING_KEYS = ("keep_every", "alpha", "temperature", "data", "steps", "batch_size",
                 "max_tokens", "learning_rate", "seed", "checkpoint_every", "dtype")
LOSS_WINDOW = 5  # initial and final loss: means of the first and last 5 steps (fewer when
# there are fewer than 10 steps, so that the two never overlap)


def kept_layers(num_layers: int, keep_every: int) -> list[int]:
    """Layers 0, k, 2k, ... below ``num_layers``, plus the last layer."""
    kept = list(range(0, num_layers, keep_every))
    if kept[-1] != num_layers - 1:
        kept.append(num_layers - 1)
    return kept


def state_dir(out_dir: Path) -> Path:
    return out_dir.parent / f"{out_dir.name}{STATE_SUFFIX}"


def _on_step_done(step: int) -> None:
    """Called after every optimizer step (tests replace it to simulate a killed job)."""


def teacher_source(prepared_dir: Path, key: str) -> tuple[Path, dict[str, Any]]:
    """The teacher's weights folder and its prepared-model record: a prepared model, or the
    checkpoint of an earlier step this method can follow."""
    prepared_dir = Path(prepared_dir)
    if not (prepared_dir / checkpoint.MANIFEST_FILE).is_file():
        return prepared_dir, checkpoint.read_prepared(prepared_dir)
    manifest = checkpoint.read_manifest(prepared_dir)
    if manifest["method"] not in Distill.can_follow:
        raise ConfigError(key, f"distill cannot follow method {manifest['method']!r} "
                               f"(it starts from an unmodified model: "
                               f"{', '.join(Distill.can_follow)})")
    source = checkpoint.weights_dir(prepared_dir, manifest)
    return source, checkpoint.read_prepared(source)


def training_texts(variant: dict[str, Any]) -> tuple[list[str], dict[str, Any]]:
    """The texts of ``data`` (a UTF-8 file, paragraphs split at blank lines), or Python's own
    documentation (the calibration source pydoc_topics) when no file is given."""
    if variant.get("data"):
        source = {"source": "text_file", "path": variant["data"]}
    else:
        source = {"source": "pydoc_topics"}
    return calibration.candidate_texts(source), source


def pack_tokens(texts: list[str], tokenizer: Any, max_tokens: int) -> Any:
    """One token stream (texts separated by the EOS token) cut into rows of ``max_tokens``."""
    import torch

    eos = tokenizer.eos_token_id
    stream: list[int] = []
    for ids in tokenizer(texts, add_special_tokens=False)["input_ids"]:
        stream.extend(ids)
        if eos is not None:
            stream.append(eos)
    rows = len(stream) // max_tokens
    if rows == 0:
        raise ValueError(f"the training text has {len(stream)} tokens, fewer than one sequence "
                         f"of max_tokens={max_tokens}")
    return torch.tensor(stream[: rows * max_tokens], dtype=torch.long).view(rows, max_tokens)


def batch_rows(step: int, batch_size: int, order: list[int]) -> list[int]:
    """Rows of the batch of ``step`` (0-based): the seeded order, read cyclically. A pure
    function of the step, so a resumed run sees the same batches."""
    return [order[(step * batch_size + j) % len(order)] for j in range(batch_size)]


def distill_loss(student_logits: Any, teacher_logits: Any, input_ids: Any, alpha: float,
                 temperature: float) -> tuple[Any, dict[str, float]]:
    import torch.nn.functional as F

    vocab = student_logits.shape[-1]
    # position t predicts token t + 1
    s = student_logits[:, :-1].float().reshape(-1, vocab)
    t = teacher_logits[:, :-1].float().reshape(-1, vocab)
    labels = input_ids[:, 1:].reshape(-1)
    positions = s.shape[0]
    kl = F.kl_div(F.log_softmax(s / temperature, dim=-1), F.log_softmax(t / temperature, dim=-1),
                  log_target=True, reduction="sum") / positions * temperature ** 2
    ce = F.cross_entropy(s, labels)
    loss = alpha * kl + (1 - alpha) * ce
    return loss, {"kl": float(kl.detach()), "ce": float(ce.detach())}


def cut_layers(model: Any, kept: list[int]) -> list[str]:
    """Keep only the decoder layers ``kept`` (renumbered); returns the config lists cut."""
    import torch

    layers = model.model.layers
    total = len(layers)
    model.model.layers = torch.nn.ModuleList(layers[i] for i in kept)
    for new_index, layer in enumerate(model.model.layers):
        for module in layer.modules():  # the KV cache is indexed by layer position
            if hasattr(module, "layer_idx"):
                module.layer_idx = new_index
    config = model.config
    cut = []
    for name, value in list(vars(config).items()):
        if isinstance(value, (list, tuple)) and len(value) == total and name != "architectures":
            setattr(config, name, type(value)(value[i] for i in kept))
            cut.append(name)
    config.num_hidden_layers = len(kept)
    return cut


def parameter_count(model: Any) -> int:
    return sum(p.numel() for p in model.parameters())  # tied weights counted once


def _fingerprint(variant: dict[str, Any], prepared: dict[str, Any]) -> str:
    settings = {k: variant.get(k) for k in TRAINING_KEYS}
    payload = json.dumps({"settings": settings, "teacher": prepared.get("source")},
                         sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()


def _save_state(folder: Path, payload: dict[str, Any]) -> None:
    import torch

    folder.mkdir(parents=True, exist_ok=True)
    with atomic.staged_file(folder / STATE_FILE, "wb") as handle:
        torch.save(payload, handle)


def _load_state(folder: Path, fingerprint: str) -> dict[str, Any] | None:
    import torch

    path = folder / STATE_FILE
    if not path.is_file():
        return None
    state = torch.load(path, map_location="cpu", weights_only=False)
    if state.get("fingerprint") != fingerprint:
        log.warning("ignoring training state %s: written for other settings or another teacher",
                    path)
        return None
    return state


def _mean(values: list[float]) -> float | None:
    return round(sum(values) / len(values), 6) if values else None


class Distill(Method):
    name = "distill"
    heavy = True
    can_follow = ("none",)
    # training: teacher forward plus student forward and backward per step; 50 short steps on
    # a GPU take minutes for a 1B model, and the teacher must be loaded and saved
    minutes = (10.0, 15.0)

    def check(self, key: str, variant: dict[str, Any]) -> None:
        data = variant.get("data")
        if data is not None and not Path(data).is_file():
            raise ConfigError(f"{key}.data", f"file {data} does not exist")

    def check_model(self, key: str, variant: dict[str, Any], model_id: str,
                    model_config: dict[str, Any]) -> None:
        layers = model_config.get("num_hidden_layers")
        if layers is None:
            return
        if len(kept_layers(int(layers), variant["keep_every"])) >= int(layers):
            raise ConfigError(f"{key}.keep_every", f"model {model_id} has {layers} layers: "
                                                   f"keeping every {variant['keep_every']}-th "
                                                   f"and the last removes none")

    def compress(self, job: CompressJob) -> dict[str, Any]:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        started = time.monotonic()
        variant = job.variant
        source, prepared = teacher_source(job.prepared_dir, f"{job.key}.method")
        model_config = checkpoint_info.read_model_config(source)
        self.check_model(job.key, variant, job.model_id, model_config)
        torch.set_num_threads(job.threads)
        if job.device == "cuda" and not torch.cuda.is_available():
            raise RuntimeError("setup device is cuda but no CUDA device is visible to this job")
        device = device_string(job.device)
        stored_dtype = checkpoint_info.tensor_summary(source).get("dtype") or "float32"
        if job.device == "cpu":
            # bfloat16 training is emulated on AVX2-only CPUs; float32 everywhere on CPU
            choice = compute_dtype.DtypeChoice("float32", "training on CPU in float32")
        else:
            choice = compute_dtype.resolve(variant["dtype"], job.device, key=f"{job.key}.dtype",
                                           checkpoint_dtype=stored_dtype)
        autocast_dtype = compute_dtype.torch_dtype(choice.dtype)

        tokenizer = AutoTokenizer.from_pretrained(source)
        texts, data_source = training_texts(variant)
        rows = pack_tokens(texts, tokenizer, variant["max_tokens"])
        order = list(range(rows.shape[0]))
        random.Random(variant["seed"]).shuffle(order)
        data_record = {**data_source, "sequences": int(rows.shape[0]),
                       "tokens_available": int(rows.numel()),
                       "token_ids_sha256": hashlib.sha256(rows.numpy().tobytes()).hexdigest()}
        log.info("training text: %d sequences of %d tokens (%s)", rows.shape[0],
                 variant["max_tokens"], data_source.get("path") or data_source["source"])

        torch.manual_seed(variant["seed"])
        teacher = AutoModelForCausalLM.from_pretrained(source, dtype=torch.float32)
        teacher.eval().requires_grad_(False)
        num_layers = int(teacher.config.num_hidden_layers)
        kept = kept_layers(num_layers, variant["keep_every"])
        params_before = parameter_count(teacher)
        student = copy.deepcopy(teacher)
        cut_config_lists = cut_layers(student, kept)
        student.requires_grad_(True).train()
        params_after = parameter_count(student)
        log.info("student keeps layers %s of %d: %d -> %d parameters", kept, num_layers,
                 params_before, params_after)
        if job.device == "cuda":
            teacher.to(device=device, dtype=autocast_dtype)
        student.to(device)
        optimizer = torch.optim.AdamW(student.parameters(), lr=variant["learning_rate"])

        folder = state_dir(job.out_dir)
        fingerprint = _fingerprint(variant, prepared)
        state = _load_state(folder, fingerprint)
        first_step, losses, train_s = 0, [], 0.0
        if state is not None:
            student.load_state_dict(state["student"])
            optimizer.load_state_dict(state["optimizer"])
            torch.set_rng_state(state["rng"]["torch"])
            random.setstate(state["rng"]["python"])
            if job.device == "cuda" and state["rng"].get("cuda") is not None:
                torch.cuda.set_rng_state(state["rng"]["cuda"])
            first_step, losses, train_s = state["step"], state["losses"], state["train_s"]
            log.info("resuming from step %d of %d (%s)", first_step, variant["steps"], folder)

        steps, batch_size = variant["steps"], variant["batch_size"]
        log_every = max(1, min(10, steps // 10))
        run_started = time.monotonic()
        for step in range(first_step, steps):
            input_ids = rows[batch_rows(step, batch_size, order)].to(device)
            with torch.autocast(device_type=job.device, dtype=autocast_dtype,
                                enabled=job.device == "cuda"):
                with torch.no_grad():
                    teacher_logits = teacher(input_ids=input_ids).logits
                student_logits = student(input_ids=input_ids).logits
            loss, parts = distill_loss(student_logits, teacher_logits, input_ids,
                                       variant["alpha"], variant["temperature"])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            losses.append(float(loss.detach()))
            done = step + 1
            if done % log_every == 0 or done in (1, steps):
                elapsed = train_s + time.monotonic() - run_started
                log.info("distill step %d/%d: loss %.4f (KL %.4f, CE %.4f), %.1f s, "
                         "%.0f tokens/s", done, steps, losses[-1], parts["kl"], parts["ce"],
                         elapsed, (done - first_step) * batch_size * variant["max_tokens"]
                         / max(time.monotonic() - run_started, 1e-9))
            if done % variant["checkpoint_every"] == 0 and done < steps:
                _save_state(folder, {
                    "fingerprint": fingerprint, "step": done, "losses": losses,
                    "train_s": train_s + time.monotonic() - run_started,
                    "student": student.state_dict(), "optimizer": optimizer.state_dict(),
                    "rng": {"torch": torch.get_rng_state(), "python": random.getstate(),
                            "cuda": torch.cuda.get_rng_state() if job.device == "cuda" else None},
                })
                log.info("training state at step %d saved in %s", done, folder)
            _on_step_done(done)
        train_s += time.monotonic() - run_started
        del teacher

        window = min(LOSS_WINDOW, max(1, steps // 2))
        save_dtype = stored_dtype if stored_dtype in checkpoint.BYTES_PER_PARAM else "float32"
        student.eval().requires_grad_(False)
        student.to(device="cpu", dtype=compute_dtype.torch_dtype(save_dtype))
        student.config.dtype = save_dtype
        with atomic.staged_directory(job.out_dir) as staging:
            student.save_pretrained(staging)
            tokenizer.save_pretrained(staging)
            atomic.write_json(staging / checkpoint.MANIFEST_FILE, {
                "method": self.name, "model": job.model_id, "variant": job.variant_id,
                "weights_dir": ".", "dtype": variant["dtype"], "layers_kept": kept,
            })
            inference = compute_dtype.resolve(variant["dtype"], job.device,
                                              key=f"{job.key}.dtype", checkpoint_dtype=save_dtype)
            summary = checkpoint.summary(
                job.model_id, job.variant_id, variant, prepared,
                checkpoint_info.size_on_disk_mb(staging), time.monotonic() - started, job.device,
                compute_dtype=inference.dtype, compute_dtype_reason=inference.reason,
                train_dtype=choice.dtype, train_dtype_reason=choice.reason,
                saved_dtype=save_dtype, threads=job.threads, seed=variant["seed"],
                keep_every=variant["keep_every"], layers_teacher=num_layers,
                layers_kept=kept, layers_student=len(kept), config_lists_cut=cut_config_lists,
                parameters_before=params_before, parameters_after=params_after,
                alpha=variant["alpha"], temperature=variant["temperature"],
                learning_rate=variant["learning_rate"], steps=steps, batch_size=batch_size,
                max_tokens=variant["max_tokens"],
                tokens_seen=steps * batch_size * variant["max_tokens"],
                resumed_from_step=first_step if state is not None else None,
                loss_initial=_mean(losses[:window]), loss_final=_mean(losses[-window:]),
                loss_window_steps=window,
                train_time_s=round(train_s, 3), training_data=data_record,
            )
            atomic.write_json(staging / checkpoint.SUMMARY_FILE, summary)
        shutil.rmtree(folder, ignore_errors=True)
        log.info("saved %s/%s: %d layers, %.1f MB, loss %.3f -> %.3f in %.0f s", job.model_id,
                 job.variant_id, len(kept), summary["size_on_disk_mb"], summary["loss_initial"],
                 summary["loss_final"], summary["wall_time_s"])
        return summary

    def load(self, source: Path, manifest: dict[str, Any], device: str, dtype: str,
             threads: int | None) -> Loaded:
        return NoCompression().load(source, manifest, device, dtype, threads)

    def describe(self, checkpoint_dir: Path) -> checkpoint.Description:
        return checkpoint.dense_description(checkpoint_dir)

    def weight_bytes(self, parameters: float, variant: dict[str, Any], arch: Any,
                     checkpoint_dtype: str | None) -> float:
        # the student: embeddings whole, the decoder layers in the kept share
        embeddings = arch.embedding_parameters(parameters)
        share = len(kept_layers(arch.layers, variant["keep_every"])) / arch.layers
        student = embeddings + max(0.0, parameters - embeddings) * share
        return checkpoint.dense_weight_bytes(student, variant, checkpoint_dtype)
