"""llm_footprint: the library behind the workflow that measures what compressing a large
language model does to its quality, inference energy and carbon footprint.

Opening what the workflow wrote, in your own code: ``load_checkpoint(path)`` returns
(model, tokenizer) of any checkpoint folder; ``export_dense(checkpoint, out)`` writes a
head-pruned checkpoint as a plain transformers folder.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["export_dense", "load_checkpoint"]

if TYPE_CHECKING:
    from .dense_export import export_dense
    from .open_checkpoint import load_checkpoint


def __getattr__(name: str) -> Any:
    # imported on first use: `import llm_footprint.<module>` in the workflow's scripts stays
    # as light as it was
    if name == "load_checkpoint":
        from .open_checkpoint import load_checkpoint as found
    elif name == "export_dense":
        from .dense_export import export_dense as found
    else:
        raise AttributeError(f"module 'llm_footprint' has no attribute {name!r}")
    globals()[name] = found
    return found
