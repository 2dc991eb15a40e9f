"""The shape of ``sim``: layers import only downwards, modules and classes stay small.

The import graph is read from the source with ``ast`` (every ``import`` and ``from … import``,
at module level and inside functions and ``if TYPE_CHECKING:`` blocks, relative imports
resolved), so an upward import hidden in a function body, which a run would only find on the
path that reaches it, fails here. docs/design.md draws the layers.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SIM = ROOT / "sim"

# Lowest first: a module may import from its own layer and the ones before it, never after.
LAYERS: tuple[str, ...] = (
    "sim.scenario",
    "sim.model",
    "sim.measures",
    "sim.experiments",
    "sim.sizing",
    "sim.reports",
    "sim.cli",
)
# Built on sim (calibration) or timing it (bench): sim must run without them.
FORBIDDEN_TOP_LEVEL: tuple[str, ...] = ("calibration", "bench")
# The one name of the package root that any layer may import (it loads nothing).
ROOT_NAMES_ALLOWED: frozenset[str] = frozenset({"__version__"})

# The targets are 500 lines a module and 300 a class. The tolerance lets a module that is
# within a docstring or a helper of the target grow a little without forcing an artificial
# split; past it, a module or class has usually taken on a second job and should be divided.
MODULE_LINES, MODULE_LINES_TOLERATED = 500, 550
CLASS_LINES, CLASS_LINES_TOLERATED = 300, 330

# Modules whose import must not pull these in, so `import sim` and `sim --help` stay fast.
HEAVY_MODULES: tuple[str, ...] = ("pandas", "scipy", "statsmodels")


@dataclass(frozen=True)
class Import:
    """One imported module as written at a line of a source file."""

    line: int
    target: str  # absolute dotted name of the module imported
    text: str  # the statement as written, for the failure message


def module_name(path: Path, root: Path = ROOT) -> str:
    """Dotted module name of a file under ``root`` (``sim/model/__init__.py`` → ``sim.model``)."""
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def sim_modules() -> list[Path]:
    """Every Python file of the ``sim`` package, sorted."""
    return sorted(SIM.rglob("*.py"))


def root_exports(source: str) -> dict[str, str]:
    """The lazy name → module table (``_EXPORTS``) of ``sim/__init__.py``, read without importing.

    ``from sim import simulate`` loads ``sim.experiments.experiment`` on first use, so an import
    of a lazy name counts as an import of the module that defines it.
    """
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            targets, value = [node.target], node.value
        else:
            continue
        if any(isinstance(t, ast.Name) and t.id == "_EXPORTS" for t in targets):
            return {str(k): str(v) for k, v in ast.literal_eval(value).items()}
    raise AssertionError("sim/__init__.py has no _EXPORTS table: update root_exports()")


def _resolve_relative(module: str, is_package: bool, level: int, name: str | None) -> str:
    """Absolute name of ``from <level dots><name> import …`` written in ``module``."""
    package = module.split(".") if is_package else module.split(".")[:-1]
    if level - 1 > len(package) - 1:
        raise ValueError(f"{module}: relative import beyond the top-level package")
    base = package[: len(package) - (level - 1)]
    return ".".join(base + ([name] if name else []))


def imports_in(
    source: str,
    module: str,
    *,
    is_package: bool = False,
    known_modules: frozenset[str] = frozenset(),
    exports: dict[str, str] | None = None,
) -> list[Import]:
    """Every module that ``source`` (the text of ``module``) imports, wherever the import is.

    ``from P import n`` imports the module ``P.n`` when that is a module (``known_modules``),
    the module behind a lazy name when ``P`` is ``sim`` (``exports``), and ``P`` otherwise.
    """
    exports = exports or {}
    found: list[Import] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                found.append(Import(node.lineno, alias.name, f"import {alias.name}"))
        elif isinstance(node, ast.ImportFrom):
            written = "." * node.level + (node.module or "")
            if node.level:
                base = _resolve_relative(module, is_package, node.level, node.module)
            else:
                base = node.module or ""
            for alias in node.names:
                text = f"from {written} import {alias.name}"
                submodule = f"{base}.{alias.name}"
                if submodule in known_modules:
                    target = submodule
                elif base == "sim" and alias.name in exports:
                    target = exports[alias.name]
                elif base == "sim" and alias.name in ROOT_NAMES_ALLOWED:
                    continue
                else:
                    target = base
                found.append(Import(node.lineno, target, text))
    return found


def layer_of(name: str) -> int | None:
    """Position of ``name``'s layer in LAYERS, or None for a module outside the order."""
    for rank, layer in enumerate(LAYERS):
        if name == layer or name.startswith(layer + "."):
            return rank
    return None


def import_violations(module: str, imports: list[Import]) -> list[str]:
    """One actionable message per import of ``module`` that breaks the layering."""
    problems: list[str] = []
    own = layer_of(module)
    for imp in imports:
        where = f"{module} line {imp.line}: `{imp.text}`"
        top = imp.target.split(".")[0]
        if top in FORBIDDEN_TOP_LEVEL:
            problems.append(
                f"{where} imports {top!r}, which is built on sim (or times it): sim must not"
                f" depend on it; move the code into sim or reach it through an entry point"
                f" (pyproject's sim.commands)"
            )
            continue
        if top != "sim" or own is None:
            continue  # third-party and standard library; sim/__init__ and __main__ are outside
        if imp.target == "sim":
            problems.append(
                f"{where} imports the package root, whose lazy names reach every layer;"
                f" import from the defining module instead (see _EXPORTS in sim/__init__.py)"
            )
            continue
        theirs = layer_of(imp.target)
        if theirs is not None and theirs > own:
            problems.append(
                f"{where} imports from {LAYERS[theirs]}, a higher layer than {LAYERS[own]}"
                f" (order: {' < '.join(LAYERS)}); move the shared code down into"
                f" {LAYERS[own]} or lower, or pass it in from the caller"
            )
    return problems


def _sim_graph() -> dict[str, tuple[Path, list[Import]]]:
    paths = sim_modules()
    known = frozenset(module_name(p) for p in paths)
    exports = root_exports((SIM / "__init__.py").read_text(encoding="utf-8"))
    graph = {}
    for path in paths:
        name = module_name(path)
        source = path.read_text(encoding="utf-8")
        graph[name] = (
            path,
            imports_in(
                source,
                name,
                is_package=path.name == "__init__.py",
                known_modules=known,
                exports=exports,
            ),
        )
    return graph


# -- the checks on sim --------------------------------------------------------------------------


def test_every_layer_is_a_subpackage_and_every_module_is_in_one() -> None:
    for layer in LAYERS:
        assert (ROOT / layer.replace(".", "/") / "__init__.py").is_file(), f"no package {layer}"
    outside = [
        module_name(p)
        for p in sim_modules()
        if layer_of(module_name(p)) is None and module_name(p) not in ("sim", "sim.__main__")
    ]
    assert not outside, (
        f"modules outside every layer: {outside}; move each into the subpackage of its layer"
        f" ({', '.join(LAYERS)}) or add a layer to LAYERS and docs/design.md"
    )


def test_imports_only_go_down_the_layers() -> None:
    problems = [
        problem
        for name, (_, imports) in _sim_graph().items()
        for problem in import_violations(name, imports)
    ]
    assert not problems, "sim's layering is broken:\n" + "\n".join(problems)


def test_the_graph_sees_imports_inside_functions() -> None:
    # Guards the walker itself on real code: sim.cli.main imports its commands' modules lazily.
    graph = _sim_graph()
    targets = {imp.target for _, imports in graph.values() for imp in imports}
    assert "sim.experiments.experiment" in targets
    assert any(layer_of(t) == 0 for t in targets)


def test_modules_stay_small() -> None:
    too_long = []
    for path in sim_modules():
        lines = len(path.read_text(encoding="utf-8").splitlines())
        if lines > MODULE_LINES_TOLERATED:
            too_long.append(f"{path.relative_to(ROOT)}: {lines} lines")
    assert not too_long, (
        f"modules over {MODULE_LINES} lines (tolerated up to {MODULE_LINES_TOLERATED}); split"
        f" each by job into modules of the same layer:\n" + "\n".join(too_long)
    )


def test_classes_stay_small() -> None:
    too_long = []
    for path in sim_modules():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef) and node.end_lineno is not None:
                lines = node.end_lineno - node.lineno + 1
                if lines > CLASS_LINES_TOLERATED:
                    too_long.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name}: {lines}")
    assert not too_long, (
        f"classes over {CLASS_LINES} lines (tolerated up to {CLASS_LINES_TOLERATED}); move"
        f" helpers out into functions or collaborating classes:\n" + "\n".join(too_long)
    )


def test_every_module_and_subpackage_has_a_docstring() -> None:
    missing = [
        str(path.relative_to(ROOT))
        for path in sim_modules()
        if not ast.get_docstring(ast.parse(path.read_text(encoding="utf-8")))
    ]
    assert not missing, (
        "modules without a docstring (say in one line what the module owns, and for a"
        " subpackage's __init__.py what the layer is):\n" + "\n".join(missing)
    )


# -- the checker catches what it should ---------------------------------------------------------


def _violations_of(source: str, module: str, *, is_package: bool = False) -> list[str]:
    known = frozenset({"sim.reports.figures", "sim.cli", "sim.cli.main", "sim.scenario.errors"})
    exports = {"simulate": "sim.experiments.experiment", "LEVELS": "sim.scenario.vocabulary"}
    imports = imports_in(
        textwrap.dedent(source), module, is_package=is_package, known_modules=known, exports=exports
    )
    return import_violations(module, imports)


def test_checker_catches_an_upward_import_inside_a_function() -> None:
    source = """
        '''A model module that reaches up to the figures.'''
        from sim.scenario.errors import ScenarioError

        def plot_it():
            from sim.reports.figures import draw
            return draw
    """
    problems = _violations_of(source, "sim.model.fake")
    assert len(problems) == 1
    assert problems[0].startswith("sim.model.fake line 6: `from sim.reports.figures import draw`")
    assert "higher layer than sim.model" in problems[0]


def test_checker_resolves_relative_imports_and_submodules() -> None:
    source = """
        from .. import cli
        from ..scenario import errors
        from ..cli.main import main
    """
    problems = _violations_of(source, "sim.measures.fake")
    assert [p.split(":")[0] for p in problems] == [
        "sim.measures.fake line 2",
        "sim.measures.fake line 4",
    ], problems
    assert all("imports from sim.cli, a higher layer" in p for p in problems)
    # The same text in a package's __init__ resolves one level less deep.
    assert _violations_of("from . import errors\n", "sim.scenario", is_package=True) == []


def test_checker_catches_calibration_and_bench() -> None:
    source = """
        import calibration.fitting
        def timing():
            from bench import run
    """
    problems = _violations_of(source, "sim.experiments.fake")
    assert len(problems) == 2
    assert "line 2: `import calibration.fitting` imports 'calibration'" in problems[0]
    assert "line 4: `from bench import run` imports 'bench'" in problems[1]
    # Also from modules outside the layer order.
    assert _violations_of("import calibration\n", "sim.__main__")


def test_checker_reads_lazy_names_of_the_package_root() -> None:
    assert _violations_of("from sim import __version__\n", "sim.scenario.fake") == []
    assert _violations_of("from sim import LEVELS\n", "sim.model.fake") == []
    (upward,) = _violations_of("from sim import simulate\n", "sim.model.fake")
    assert "imports from sim.experiments" in upward
    (root,) = _violations_of("import sim\n", "sim.model.fake")
    assert "imports the package root" in root
    # sim/__init__.py itself is outside the order and may name every layer.
    assert _violations_of("from sim.cli.main import main\n", "sim", is_package=True) == []


# -- what `import sim` and `sim --help` load ----------------------------------------------------

_REPORT_HEAVY = f"""
import sys
heavy = [m for m in {HEAVY_MODULES!r} if m in sys.modules]
print("HEAVY:" + ",".join(heavy))
"""


def _run_python(code: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    # The checkout under test first (a worktree shadows an editable install of another one).
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _heavy_loaded(done: subprocess.CompletedProcess[str]) -> list[str]:
    assert done.returncode == 0, done.stderr
    (line,) = [x for x in done.stdout.splitlines() if x.startswith("HEAVY:")]
    return [m for m in line.removeprefix("HEAVY:").split(",") if m]


@pytest.mark.parametrize(
    "code",
    [
        pytest.param("import sim\nsim.__version__\n", id="import-sim"),
        pytest.param(
            # Exactly what `python -m sim --help` runs, then a look at sys.modules.
            "import runpy, sys\n"
            "sys.argv = ['sim', '--help']\n"
            "try:\n"
            "    runpy.run_module('sim', run_name='__main__', alter_sys=True)\n"
            "except SystemExit as exit:\n"
            "    assert exit.code in (0, None), exit.code\n"
            "else:\n"
            "    raise AssertionError('sim --help did not exit')\n",
            id="sim-help",
        ),
        pytest.param(
            # What a user waits for (issue 19): a run whose KPIs are printed as JSON reads them
            # off the record columns with NumPy, and one replication needs no interval.
            "import runpy, sys\n"
            "sys.argv = ['sim', 'run', 'bench/reference.toml', '--json', '-']\n"
            "try:\n"
            "    runpy.run_module('sim', run_name='__main__', alter_sys=True)\n"
            "except SystemExit as exit:\n"
            "    assert exit.code in (0, None), exit.code\n"
            "else:\n"
            "    raise AssertionError('sim run did not exit')\n",
            id="sim-run-json",
        ),
    ],
)
def test_import_sim_and_help_stay_light(code: str) -> None:
    done = _run_python(code + _REPORT_HEAVY)
    heavy = _heavy_loaded(done)
    assert not heavy, (
        f"{heavy} imported by {code.splitlines()[0]!r}…: import them inside the functions that"
        f" use them (or under TYPE_CHECKING) in the modules that `import sim` or the sim.commands"
        f" plug-ins' add_parser load"
    )


def test_sim_help_lists_the_plugin_commands() -> None:
    # The light --help above must still be the full help, plug-ins included.
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    done = subprocess.run(
        [sys.executable, "-m", "sim", "--help"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    for command in ("run", "validate", "sweep", "size", "calibrate", "report"):
        assert command in done.stdout, f"`sim --help` does not list {command!r}:\n{done.stdout}"
    assert "warning" not in done.stderr, done.stderr
