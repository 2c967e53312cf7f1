"""Method rtn: weight-only round-to-nearest, the naive baseline of every quantization method.

Each group of ``group_size`` input weights of a decoder linear layer gets the scale (and, when
asymmetric, the zero point) of its own min/max, and every weight is rounded to the nearest of
the ``2^bits`` levels: no calibration, no error feedback. It runs through GPTQModel's own
weight-only path and writes the same GPTQ checkpoint format as method gptq, so the two load
with the same kernel and differ only in how the integers were chosen: any quality difference
at equal bits, group size and sym is GPTQ's calibration at work.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .gptq import GPTQ


class RTN(GPTQ):
    """GPTQ's compress, load, describe and size estimate, with GPTQModel's weight-only config."""

    name = "rtn"
    needs_calibration = False
    # one pass over the weights: a minute plus a few seconds per billion parameters
    minutes = (1.0, 0.5)

    def check(self, key: str, variant: dict[str, Any]) -> None:
        """No calibration block to check."""

    def quantize_config(self, variant: dict[str, Any], device: str, offload_dir: Path) -> Any:
        from gptqmodel.quantization.config import RTNConfig

        return RTNConfig(bits=variant["bits"], group_size=variant["group_size"],
                         sym=variant["sym"], device=device, offload_to_disk_path=str(offload_dir))

    def what(self, variant: dict[str, Any], record: dict[str, Any] | None) -> str:
        return (f"round-to-nearest {variant['bits']}-bit, group size {variant['group_size']}, "
                f"{'symmetric' if variant['sym'] else 'asymmetric'}, no calibration")
