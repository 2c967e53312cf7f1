"""Rule compress: results/checkpoints/{model}/{variant}/ from a prepared model.

The entry point of the rule's script, kept under this name so that finished studies are not
recompressed (Snakemake reruns a job whose script file changes); the methods themselves live
in ``llm_footprint.compression``.
"""

from .compression import compress

__all__ = ["compress"]
