"""The package's layout stays walkable: every module imports on its own, no two modules import
each other (directly or around a loop, at the top or inside a function), and no module is
longer than one can read in one sitting, but for the few listed with their reason."""

from __future__ import annotations

import ast
import subprocess
import sys

from conftest import REPO

SRC = REPO / "src"
PACKAGE = SRC / "llm_footprint"
MAX_LINES = 350

# Modules allowed over MAX_LINES, each with the reason it stays whole.
LONG_MODULES = {
    "compression/head_prune.py": "one method: the head statistic, the pruning of each attention "
                                 "layout and the reload of a pruned checkpoint belong together",
    "compression/distill.py": "one method: the student's cut, its training loop and its "
                              "resumable state belong together",
    "compression/sparsegpt.py": "one method: the OBS update, the block-by-block calibration and "
                                "the sparsity checks belong together",
}


def module_name(path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def _absolute(importer: str, level: int, module: str | None) -> str:
    """The module a relative ``from`` import of ``importer`` names."""
    package = importer if MODULES[importer].name == "__init__.py" else importer.rpartition(".")[0]
    for _ in range(level - 1):
        package = package.rpartition(".")[0]
    return f"{package}.{module}" if module else package


def imported_modules(importer: str) -> set[str]:
    """The package's modules that ``importer`` imports anywhere in its text (at the top, in a
    function, under TYPE_CHECKING), with the packages whose ``__init__`` runs first."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(MODULES[importer].read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            base = _absolute(importer, node.level, node.module) if node.level else node.module
            if not base or not (base == "llm_footprint" or base.startswith("llm_footprint.")):
                continue
            names = [f"{base}.{alias.name}" for alias in node.names]
            targets = [name for name in names if name in MODULES]
            if len(targets) < len(names):  # a name defined in the module ``base`` itself
                targets.append(base)
        elif isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names
                       if alias.name.split(".")[0] == "llm_footprint"]
        else:
            continue
        for target in targets:
            while target and target not in MODULES:
                target = target.rpartition(".")[0]
            parts = target.split(".")
            for end in range(1, len(parts) + 1):
                # a package's __init__ runs before its module, unless it is the importer's own
                # (then it is already running)
                ancestor = ".".join(parts[:end])
                if ancestor in MODULES and not (importer + ".").startswith(ancestor + "."):
                    found.add(ancestor)
    found.discard(importer)
    return found


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import loop of the graph, as the modules around it (the first again at the end)."""
    state: dict[str, str] = {}
    path: list[str] = []

    def visit(module: str) -> list[str] | None:
        state[module] = "open"
        path.append(module)
        for imported in sorted(graph[module]):
            if state.get(imported) == "open":
                return path[path.index(imported):] + [imported]
            if imported not in state:
                cycle = visit(imported)
                if cycle:
                    return cycle
        state[module] = "done"
        path.pop()
        return None

    for module in sorted(graph):
        if module not in state:
            cycle = visit(module)
            if cycle:
                return cycle
    return None


def test_the_import_graph_sees_relative_and_function_level_imports():
    graph = {name: imported_modules(name) for name in MODULES}
    assert "llm_footprint.cluster_estimates" in graph["llm_footprint.plan.job_resources"]
    assert "llm_footprint.plan" in graph["llm_footprint.cluster"]
    # inside a function (the package's lazy load_checkpoint)
    assert "llm_footprint.open_checkpoint" in graph["llm_footprint"]
    # a submodule imported from a package runs that package's __init__ first
    assert {"llm_footprint.compression", "llm_footprint.compression.chains"} <= \
        graph["llm_footprint.plan.steps"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == ["a", "b", "c", "a"]


def test_no_import_cycle_among_the_modules():
    graph = {name: imported_modules(name) for name in MODULES}
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_every_module_imports_in_a_fresh_interpreter():
    script = ("import importlib, sys\n"
              "failed = []\n"
              "for name in sys.argv[1:]:\n"
              "    try:\n"
              "        importlib.import_module(name)\n"
              "    except Exception as error:\n"
              "        failed.append(f'{name}: {type(error).__name__}: {error}')\n"
              "print('\\n'.join(failed))\n"
              "sys.exit(1 if failed else 0)\n")
    result = subprocess.run([sys.executable, "-c", script, *MODULES], capture_output=True,
                            text=True, cwd=REPO, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr


def test_no_module_is_longer_than_the_limit():
    lengths = {str(path.relative_to(PACKAGE)): len(path.read_text(encoding="utf-8").splitlines())
               for path in MODULES.values()}
    too_long = {name: n for name, n in lengths.items() if n > MAX_LINES and name not in LONG_MODULES}
    assert not too_long, f"modules over {MAX_LINES} lines (split them, or list them with a reason " \
                         f"in LONG_MODULES): {too_long}"
    stale = [name for name in LONG_MODULES if lengths.get(name, 0) <= MAX_LINES]
    assert not stale, f"listed in LONG_MODULES but not (or no longer) over {MAX_LINES}: {stale}"
