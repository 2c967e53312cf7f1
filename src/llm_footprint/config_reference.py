"""docs/config-reference.md, generated from the config schema (``make docs``): every key of a
study file with its type, default, allowed values and description, one table per section and
one per compression method. A test fails when the page is out of date with the schema.

    python -m llm_footprint.config_reference [SCHEMA] > docs/config-reference.md
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import yaml

SCHEMA = Path(__file__).resolve().parents[2] / "workflow" / "schemas" / "config.schema.yaml"
PAGE = Path(__file__).resolve().parents[2] / "docs" / "config-reference.md"


def resolve(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    """Follow a local $ref ('#/$defs/x', '#/properties/...')."""
    while isinstance(node, dict) and "$ref" in node:
        target: Any = schema
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
    return node


def one_line(text: Any) -> str:
    return " ".join(str(text or "").split()).replace("|", "\\|")


def type_of(node: dict[str, Any]) -> str:
    kind = node.get("type")
    if isinstance(kind, list):
        return " or ".join(kind)
    return kind or ("object" if "properties" in node else "")


def allowed(node: dict[str, Any]) -> str:
    parts = []
    if "enum" in node:
        parts.append(", ".join(json.dumps(v) for v in node["enum"]))
    for key, sign in (("minimum", ">="), ("exclusiveMinimum", ">"), ("maximum", "<="),
                      ("exclusiveMaximum", "<")):
        if key in node:
            parts.append(f"{sign} {node[key]}")
    if "pattern" in node:
        parts.append(f"pattern `{node['pattern']}`")
    return "; ".join(parts)


def default_of(node: dict[str, Any]) -> str:
    if "default" not in node:
        return ""
    value = json.dumps(node["default"])
    return f"`{value}`" if len(value) <= 60 else f"`{value[:57]}...`"


def rows(schema: dict[str, Any], node: dict[str, Any], prefix: str) -> list[tuple]:
    """(key, type, default, allowed, description) of ``node``'s keys, nested keys after their
    parent; map entries as ``<id>``, list items as ``[]``."""
    node = resolve(schema, node)
    found = []
    for name, child in (node.get("properties") or {}).items():
        child = resolve(schema, child)
        key = f"{prefix}.{name}" if prefix else name
        found.append((key, type_of(child), default_of(child), allowed(child),
                      one_line(child.get("description"))))
        found += nested(schema, child, key)
    return found


def nested(schema: dict[str, Any], child: dict[str, Any], key: str) -> list[tuple]:
    items = child.get("items")
    if isinstance(items, dict) and resolve(schema, items).get("properties"):
        return rows(schema, items, f"{key}[]")
    extra = child.get("additionalProperties")
    if isinstance(extra, dict) and resolve(schema, extra).get("properties"):
        return rows(schema, extra, f"{key}.<id>")
    if child.get("properties"):
        return rows(schema, child, key)
    return []


def table(entries: list[tuple]) -> list[str]:
    lines = ["| key | type | default | allowed | description |", "|---|---|---|---|---|"]
    lines += [f"| `{k}` | {t} | {d} | {a} | {text} |" for k, t, d, a, text in entries]
    return lines


def method_blocks(schema: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [(name.removeprefix("method_"), block) for name, block in schema["$defs"].items()
            if name.startswith("method_")]


def page(schema_path: str | Path = SCHEMA) -> str:
    with open(schema_path, encoding="utf-8") as handle:
        schema = yaml.safe_load(handle)
    lines = ["# Config reference", "",
             "Generated from `workflow/schemas/config.schema.yaml` by `make docs` "
             "(`python -m llm_footprint.config_reference`); do not edit by hand.", "",
             one_line(schema.get("description")), "",
             "Keys are written as dotted paths; `<id>` stands for an entry of a map (a model, "
             "variant or setup id), `[]` for an item of a list. [Back to the README](../README.md)",
             ""]
    for name, section in schema["properties"].items():
        section = resolve(schema, section)
        lines += [f"## `{name}`", "", one_line(section.get("description")), ""]
        entries = nested(schema, section, name)
        if entries:
            lines += [*table(entries), ""]
    lines += ["## Compression methods (`variants.<id>`)", "",
              "Each variant's `method` brings its own keys (besides `method` and `dtype`); a "
              "key of another method is an error.", ""]
    for method, block in method_blocks(schema):
        then = resolve(schema, block.get("then") or {})
        lines += [f"### `{method}`", "", one_line(block.get("description")), ""]
        entries = rows(schema, then, "variants.<id>")
        if entries:
            lines += [*table(entries), ""]
    return "\n".join(lines).rstrip() + "\n"


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    sys.stdout.write(page(argv[0] if argv else SCHEMA))


if __name__ == "__main__":
    main()
