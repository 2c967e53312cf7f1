#!/usr/bin/env bash
# Exercise the CUDA code paths on a machine with one NVIDIA GPU, offline: GPTQ quantization on
# the GPU, GPU kernels (Marlin), bfloat16, NVML energy (tests/test_devices_and_hub.py), and the
# whole workflow on tests/gpu/cuda_study.yaml. Models are built from the configs in this folder
# with random weights and the tokenizer found in TOKENIZER_DIR (any model folder with the
# SmolLM2 tokenizer, e.g. resources/models/smollm2-135m after `make demo`).
#
#   bash tests/gpu/run.sh TOKENIZER_DIR [tests|workflow|all]
#
# PYTHON picks the interpreter (default: .venv/bin/python, else python3); CORES the cores
# Snakemake may use (default: all).
set -euo pipefail
cd "$(dirname "$0")/../.."

tokenizer=${1:?usage: tests/gpu/run.sh TOKENIZER_DIR [tests|workflow|all]}
phase=${2:-all}
if [[ -z ${PYTHON:-} ]]; then
    if [[ -x .venv/bin/python ]]; then PYTHON=.venv/bin/python; else PYTHON=python3; fi
fi
models=.cache/gpu-models
export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TOKENIZERS_PARALLELISM=false

"$PYTHON" -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else
    "no CUDA device visible: these checks need one")'

if [[ $phase == tests || $phase == all ]]; then
    "$PYTHON" tests/gpu/build_model_from_config.py tests/gpu/smollm2-135m-shape.json \
        "$tokenizer" "$models/smollm2-135m-shape"
    LLM_FOOTPRINT_TEST_MODEL_DIR=$models/smollm2-135m-shape \
        "$PYTHON" -m pytest -ra --durations=0 -m gpu tests/test_devices_and_hub.py
fi

if [[ $phase == workflow || $phase == all ]]; then
    "$PYTHON" tests/gpu/build_model_from_config.py tests/gpu/llama-1b-shape.json \
        "$tokenizer" "$models/llama-1b-shape"
    "$PYTHON" -m snakemake --configfile tests/gpu/cuda_study.yaml --cores "${CORES:-all}" \
        --printshellcmds --keep-going
fi
