"""Validate a study config against the workflow's JSON schema and fill in its defaults.

Snakemake's own ``validate`` fills defaults of plain ``properties`` only and reports errors as
raw jsonschema output. Studies are nested maps (``variants: {id: {...}}``) whose defaults depend
on the method (``if``/``then``), and users need the offending key named in one line, so the
workflow uses this module instead.
"""

from __future__ import annotations

import copy
import difflib
from pathlib import Path
from typing import Any

import jsonschema
import yaml


class ConfigError(ValueError):
    """A study config that cannot run; ``key`` is the dotted path of the offending key."""

    def __init__(self, key: str, problem: str):
        self.key = key
        self.problem = problem
        where = f"config key '{key}'" if key else "config"
        super().__init__(f"{where}: {problem}")


def load_schema(path: str | Path) -> dict:
    with open(path, encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def _resolve(schema: dict, root: dict) -> dict:
    """Follow local ``$ref``s (``#/$defs/name``), keeping sibling keys such as a description."""
    while "$ref" in schema:
        ref = schema["$ref"]
        if not ref.startswith("#/"):
            raise ValueError(f"only local $ref is supported in the config schema, got {ref}")
        target: Any = root
        for part in ref[2:].split("/"):
            target = target[part]
        merged = {k: v for k, v in schema.items() if k != "$ref"}
        schema = {**target, **merged}
    return schema


def fill_defaults(instance: Any, schema: dict, root: dict | None = None) -> None:
    """Insert schema defaults into ``instance`` in place, recursing into maps and lists."""
    root = root if root is not None else schema
    schema = _resolve(schema, root)
    if isinstance(instance, dict):
        # a conditional branch first: the keys it adds are then filled by the main properties
        if "if" in schema and _is_valid(instance, schema["if"], root):
            if "then" in schema:
                fill_defaults(instance, schema["then"], root)
        elif "else" in schema:
            fill_defaults(instance, schema["else"], root)
        for part in schema.get("allOf", []):
            fill_defaults(instance, part, root)
        properties = schema.get("properties", {})
        for key, sub in properties.items():
            sub = _resolve(sub, root)
            if key not in instance and "default" in sub:
                instance[key] = copy.deepcopy(sub["default"])
        for key, value in instance.items():
            if key in properties:
                fill_defaults(value, properties[key], root)
            elif isinstance(schema.get("additionalProperties"), dict):
                fill_defaults(value, schema["additionalProperties"], root)
    elif isinstance(instance, list) and isinstance(schema.get("items"), dict):
        for item in instance:
            fill_defaults(item, schema["items"], root)


def _is_valid(instance: Any, schema: dict, root: dict) -> bool:
    validator = jsonschema.Draft202012Validator({**schema, "$defs": root.get("$defs", {})})
    return validator.is_valid(instance)


def dotted(path: Any) -> str:
    return ".".join(str(part) for part in path)


def _describe(error: jsonschema.ValidationError) -> tuple[str, str]:
    """Turn a jsonschema error into (key, problem) phrased for a person."""
    key = dotted(error.absolute_path)
    kind = error.validator
    if "propertyNames" in error.schema_path:
        # the error's instance is the offending key itself, not a value
        key = f"{key}.{error.instance}" if key else str(error.instance)
    if kind == "additionalProperties" and isinstance(error.instance, dict):
        allowed = sorted(error.schema.get("properties", {}))
        extra = sorted(set(error.instance) - set(allowed))
        name = extra[0] if extra else "?"
        close = difflib.get_close_matches(str(name), allowed, n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else f" (expected one of: {', '.join(allowed)})"
        return (f"{key}.{name}" if key else str(name)), f"unknown key{hint}"
    if kind == "unevaluatedProperties" and isinstance(error.instance, dict):
        # keys that no applicable block (e.g. the variant's method) declares
        unexpected = [k for k in error.instance if f"'{k}'" in error.message]
        name = unexpected[0] if unexpected else "?"
        known = set(error.schema.get("properties", {})) | (set(error.instance) - set(unexpected))
        close = difflib.get_close_matches(str(name), sorted(known), n=1)
        method = error.instance.get("method")
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        where = f" for method {method!r}" if method else ""
        return (f"{key}.{name}" if key else str(name)), f"unknown key{where}{hint}"
    if kind == "required":
        missing = str(error.message).split("'")[1] if "'" in error.message else error.message
        return (f"{key}.{missing}" if key else missing), "is required but missing"
    if kind == "enum":
        return key, f"{error.instance!r} is not one of {error.validator_value}"
    if kind == "type":
        expected = error.validator_value
        return key, f"expected {expected}, got {type(error.instance).__name__} {error.instance!r}"
    if kind == "pattern":
        if error.validator_value.startswith("^[a-z0-9]"):
            return key, (f"{error.instance!r} is not a valid id (lowercase letters, digits, "
                         "'.', '_' and '-', starting with a letter or digit)")
        return key, f"{error.instance!r} does not match the expected form {error.validator_value}"
    if kind == "minProperties":
        return key, "must not be empty"
    return key, error.message


def validate(config: dict, schema: dict) -> dict:
    """Fill defaults into ``config`` and validate it; raise ConfigError naming the key."""
    if not isinstance(config, dict):
        raise ConfigError("", f"expected a mapping at the top level, got {type(config).__name__}")
    fill_defaults(config, schema)
    validator = jsonschema.Draft202012Validator(schema)
    errors = list(validator.iter_errors(config))
    if errors:
        # the deepest error names the most specific key
        error = max(errors, key=lambda e: len(e.absolute_path))
        key, problem = _describe(error)
        raise ConfigError(key, problem)
    return config

