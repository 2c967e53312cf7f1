"""``python -m llm_footprint.export_dense CHECKPOINT OUT``: the dense export of a head-pruned
checkpoint (``llm_footprint.dense_export``); in Python, ``llm_footprint.export_dense(...)``."""

from llm_footprint.dense_export import main

if __name__ == "__main__":
    raise SystemExit(main())
