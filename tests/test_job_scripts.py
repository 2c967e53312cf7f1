"""The workflow's scripts are thin adapters of one style: each hands its job to a package
function through ``_job.call``, with keyword arguments only, and names only parameters the
function has (checked here on the scripts' text, without running Snakemake)."""

from __future__ import annotations

import ast
import importlib
import inspect
import sys
from types import SimpleNamespace

import pytest
from snakemake.iocontainers import Wildcards

from conftest import REPO

SCRIPTS = REPO / "workflow" / "scripts"
ADAPTERS = sorted(p for p in SCRIPTS.glob("*.py") if p.name != "_job.py")


@pytest.fixture(scope="module")
def job_module():
    sys.path.insert(0, str(SCRIPTS))
    try:
        yield importlib.import_module("_job")
    finally:
        sys.path.remove(str(SCRIPTS))


def _job(threads=4, **wildcards):
    return SimpleNamespace(wildcards=Wildcards(fromdict=wildcards), threads=threads)


def test_call_passes_the_ids_and_threads_the_function_takes(job_module):
    def work(model_id, variant_id, out_csv, threads=1, device="cpu"):
        return model_id, variant_id, out_csv, threads, device

    snakemake = _job(model="m", variant="v", setup="s")
    assert job_module.call(work, snakemake, out_csv="t.csv") == ("m", "v", "t.csv", 4, "cpu")
    # what the script names wins over what the job implies
    assert job_module.call(work, snakemake, variant_id="step", out_csv="t.csv",
                           threads=1)[1::2] == ("step", 1)


def test_call_passes_nothing_the_function_does_not_take(job_module):
    def table(energy_csv, out_csv):
        return energy_csv, out_csv

    assert job_module.call(table, _job(model="m"), energy_csv="e", out_csv="o") == ("e", "o")
    with pytest.raises(TypeError):
        job_module.call(table, _job(), "e", out_csv="o")  # positional: refused
    with pytest.raises(TypeError, match="unexpected keyword"):
        job_module.call(table, _job(), energy_csv="e", out_csv="o", extra=1)


def _package_functions(tree: ast.Module) -> dict[str, object]:
    """Name in the script -> what it names in llm_footprint (a function or a module)."""
    names = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("llm_footprint"):
            module = importlib.import_module(node.module)
            for alias in node.names:
                found = getattr(module, alias.name, None)
                if found is None:  # a module of the package
                    found = importlib.import_module(f"{node.module}.{alias.name}")
                names[alias.asname or alias.name] = found
    return names


def _called(node: ast.expr, names: dict[str, object]) -> object | None:
    if isinstance(node, ast.Name):
        return names.get(node.id)
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) \
            and inspect.ismodule(names.get(node.value.id)):
        return getattr(names[node.value.id], node.attr)
    return None


@pytest.mark.parametrize("script", ADAPTERS, ids=lambda p: p.name)
def test_scripts_call_the_package_with_keywords_it_takes(script):
    tree = ast.parse(script.read_text(encoding="utf-8"))
    names = _package_functions(tree)
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call)]
    handed = [c for c in calls if isinstance(c.func, ast.Name) and c.func.id == "call"]
    assert handed, f"{script.name} hands no job to the package through _job.call"
    for node in handed:
        assert len(node.args) == 2 and isinstance(node.args[1], ast.Name) and \
            node.args[1].id == "snakemake", f"{script.name}:{node.lineno}: call(function, snakemake, ...)"
        function = _called(node.args[0], names)
        assert callable(function), f"{script.name}:{node.lineno}: not a package function"
        parameters = inspect.signature(function).parameters
        named = {k.arg for k in node.keywords}
        unknown = named - set(parameters)
        assert not unknown, f"{script.name}:{node.lineno}: {function.__name__} takes no {unknown}"
        # ids and threads come from the job (call); everything else the script names
        missing = [p for p, spec in parameters.items() if spec.default is inspect.Parameter.empty
                   and p not in named and p != "threads" and not p.endswith("_id")]
        assert not missing, f"{script.name}:{node.lineno}: {function.__name__} lacks {missing}"
    for node in calls:  # readers and the like take one argument; the job's function keywords
        function = _called(node.func, names)
        assert function is None or len(node.args) <= 1, \
            f"{script.name}:{node.lineno}: {function.__name__} called with positional arguments"
