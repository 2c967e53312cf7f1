"""The documentation in step with the code: the generated config reference, and the README's
links to docs/."""

from __future__ import annotations

import re

from conftest import REPO
from llm_footprint.config_reference import PAGE, page


def test_config_reference_is_generated_from_the_current_schema():
    assert PAGE.read_text(encoding="utf-8") == page(), (
        "docs/config-reference.md is out of date with the schema: run `make docs`")


def test_every_schema_section_has_its_reference_table():
    text = PAGE.read_text(encoding="utf-8")
    for section in ("study", "models", "variants", "setups", "quality", "energy", "carbon",
                    "tradeoff", "footprint", "recommend", "report", "measurements"):
        assert f"## `{section}`" in text, section
    assert "`recommend.quality_floors[].max_worsening_pct`" in text


def test_readme_links_resolve():
    for document in (REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))):
        text = document.read_text(encoding="utf-8")
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text):
            if target.startswith(("http://", "https://")):
                continue
            assert (document.parent / target).exists(), f"{document.name}: {target}"


def test_the_readme_example_study_is_valid():
    """The annotated study of the README passes the schema and every semantic check."""
    import yaml

    from conftest import SCHEMA
    from llm_footprint.study import load_study

    text = (REPO / "README.md").read_text(encoding="utf-8")
    example = re.search(r"```yaml\n(.*?)```", text, re.S).group(1)
    study = load_study(yaml.safe_load(example), SCHEMA, search_dirs=[REPO])
    assert set(study.variants) == {"full", "gptq-4bit", "rtn-4bit"}
