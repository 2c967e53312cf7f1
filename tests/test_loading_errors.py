"""Loading a GPTQ checkpoint whose kernel needs the network, on an offline node."""

from __future__ import annotations

import urllib.error

import pytest

from llm_footprint import loading
from llm_footprint.compression import gptq


def test_kernel_build_that_downloads_names_the_variant_key(tmp_path, monkeypatch):
    """GPTQModel's Machete kernel (picked by `auto` on Hopper GPUs) downloads CUTLASS at its first
    build; on an H100 with no network that ended in a bare URLError. The load is replaced by
    one raising that same chain, since the real one needs a Hopper GPU."""
    gptqmodel = pytest.importorskip("gptqmodel")

    def offline_build(*args, **kwargs):
        try:
            raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")
        except urllib.error.URLError as error:
            raise RuntimeError("Machete extension build failed") from error

    monkeypatch.setattr(gptqmodel.GPTQModel, "load", offline_build)
    with pytest.raises(loading.KernelBuildNeedsNetwork) as caught:
        gptq.GPTQ().load(tmp_path, {"kernel": "auto"}, "cuda", "float16", 2)
    message = str(caught.value)
    assert "`kernel`" in message and "gptq_marlin" in message
    assert "name resolution" in message


def test_other_load_failures_pass_through(tmp_path, monkeypatch):
    gptqmodel = pytest.importorskip("gptqmodel")

    def broken(*args, **kwargs):
        raise ValueError("bad quantize_config.json")

    monkeypatch.setattr(gptqmodel.GPTQModel, "load", broken)
    with pytest.raises(ValueError, match="bad quantize_config"):
        gptq.GPTQ().load(tmp_path, {"kernel": "auto"}, "cpu", "bfloat16", 2)
