"""Validate a study config against the workflow's JSON schema and fill in its defaults.

Snakemake's own ``validate`` fills defaults of plain ``properties`` only and reports errors as
raw jsonschema output. Studies are nested maps (``variants: {id: {...}}``) whose defaults depend
on the method (``if``/``then``), and users need the offending key named in one line, so the
workflow uses this module instead.
"""

from __future__ import annotations

import copy
import difflib
import math
from collections.abc import Iterable
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


class ConfigFileError(ConfigError):
    """A study file that cannot be read as one unambiguous mapping: a YAML syntax error (with
    file, line and column) or a key given twice (with both lines)."""

    def __init__(self, key: str, problem: str, path: str | Path, line: int | None = None,
                 column: int | None = None):
        self.path = str(path)
        self.line = line
        self.column = column
        super().__init__(key, problem)


def _duplicate_keys(node: yaml.Node, path: tuple[str, ...], seen_nodes: set[int]) -> Iterable[
        tuple[str, int, int]]:
    """(dotted key, first line, second line) of every key given twice in a mapping node."""
    if id(node) in seen_nodes:  # an alias: its anchor was walked already
        return
    seen_nodes.add(id(node))
    if isinstance(node, yaml.MappingNode):
        first_line: dict[Any, int] = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else repr(key_node)
            line = key_node.start_mark.line + 1
            if key in first_line:
                yield dotted((*path, key)), first_line[key], line
            else:
                first_line[key] = line
            yield from _duplicate_keys(value_node, (*path, str(key)), seen_nodes)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            yield from _duplicate_keys(item, (*path, str(index)), seen_nodes)


def load_config_file(path: str | Path) -> Any:
    """Read a study file strictly: syntax errors with line and column, duplicate keys refused.

    Snakemake's own reader (and PyYAML's) lets the later of two equal keys win silently, so a
    variant defined twice would simply vanish from the study.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigFileError("", f"cannot read study file {path}: {error.strerror}", path) from None
    except UnicodeDecodeError as error:
        raise ConfigFileError("", f"{path} is not UTF-8 text ({error.reason} at byte "
                                  f"{error.start})", path) from None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        if node is None:
            return None
        for key, first, second in _duplicate_keys(node, (), set()):
            raise ConfigFileError(key, f"is given twice in {path} (lines {first} and {second}); "
                                       "the later one would silently replace the earlier",
                                  path, second)
        return yaml.safe_load(text)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (None, None)
        what = " ".join(p for p in (error.context, error.problem) if p)
        where = f"{path}:{line}:{column}" if mark else str(path)
        raise ConfigFileError("", f"YAML syntax error at {where} (line {line}, column "
                                  f"{column}): {what}", path, line, column) from None
    except yaml.YAMLError as error:
        raise ConfigFileError("", f"YAML error in {path}: {error}", path) from None


def check_config_files(paths: Iterable[str | Path]) -> None:
    """Re-read the study files Snakemake was given, strictly (see ``load_config_file``).

    Snakemake has already parsed them its own way; this catches what that parse lets through
    (duplicate keys, non-finite numbers) and names the file, line and key.
    """
    for path in paths:
        content = load_config_file(path)
        if isinstance(content, dict):
            try:
                check_finite(content)
            except ConfigError as error:
                raise ConfigFileError(error.key, f"{error.problem} (in {path})", path) from None


def check_finite(instance: Any, path: tuple[Any, ...] = ()) -> None:
    """Refuse inf and NaN anywhere: comparisons with NaN are all false, so range checks and
    every later guard would let it through."""
    if isinstance(instance, float) and not math.isfinite(instance):
        raise ConfigError(dotted(path), f"must be a finite number, got {instance!r}")
    if isinstance(instance, dict):
        for key, value in instance.items():
            check_finite(value, (*path, key))
    elif isinstance(instance, list):
        for index, value in enumerate(instance):
            check_finite(value, (*path, index))


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
    """``['quality', 'tasks', 0, 'name']`` -> ``quality.tasks[0].name``, as the semantic
    checks name keys."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


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
    if kind in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        side = "below the minimum" if "inimum" in kind else "above the maximum"
        return key, f"{error.instance!r} is {side}; allowed: {allowed_range(error.schema)}"
    return key, error.message


def allowed_range(schema: dict) -> str:
    """The bounds of a numeric key in words, e.g. '>= 0.1 and <= 3600'."""
    parts = []
    for word, sign in (("minimum", ">="), ("exclusiveMinimum", ">"), ("maximum", "<="),
                       ("exclusiveMaximum", "<")):
        if word in schema:
            bound = schema[word]
            parts.append(f"{sign} {bound if isinstance(bound, int) else format(bound, 'g')}")
    return " and ".join(parts) or "any number"


def validate(config: dict, schema: dict) -> dict:
    """Fill defaults into ``config`` and validate it; raise ConfigError naming the key."""
    if not isinstance(config, dict):
        raise ConfigError("", f"expected a mapping at the top level, got {type(config).__name__}")
    check_finite(config)
    fill_defaults(config, schema)
    validator = jsonschema.Draft202012Validator(schema)
    errors = list(validator.iter_errors(config))
    if errors:
        # the deepest error names the most specific key
        error = max(errors, key=lambda e: len(e.absolute_path))
        key, problem = _describe(error)
        raise ConfigError(key, problem)
    return config



def main(argv: list[str] | None = None) -> int:
    """``python -m llm_footprint.schema FILE...``: read study files strictly, report the first
    problem of each with its file, line and key."""
    import sys

    paths = sys.argv[1:] if argv is None else argv
    failed = 0
    for path in paths:
        try:
            check_config_files([path])
        except ConfigError as error:
            print(f"{path}: {error}", file=sys.stderr)
            failed += 1
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
