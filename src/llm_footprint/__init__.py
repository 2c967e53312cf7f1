"""llm_footprint: the library behind the workflow that measures what compressing a large
language model does to its quality, inference energy and carbon footprint."""

__version__ = "0.1.0"
