"""Quality stage: lm-evaluation-harness tasks and token-level perplexity for one checkpoint."""
