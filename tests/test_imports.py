"""Imports flow one way: functional <- io <- kernels <- backend <- layers <- models <- data <-
evaluate / visualize / figures <- train / predict / interop / course <- the command line. No
cycle among the package's files, imports inside functions included."""
import ast

import pytest

from .conftest import REPO_ROOT

# The layers of the architecture, lowest first: a module may import its own layer or lower ones.
LAYERS = [
    ("the maths and the rules", ["minicnn.functional", "minicnn.limits"]),
    ("files", ["minicnn.io"]),
    ("the machine and the fast paths", ["minicnn.runtime", "minicnn.kernels"]),
    ("the backend", ["minicnn.backend"]),
    ("network parts", ["minicnn.layers", "minicnn.optim", "minicnn.gradcheck"]),
    ("networks", ["minicnn.models"]),
    ("data", ["minicnn.data"]),
    ("scoring and seeing inside", ["minicnn.evaluate", "minicnn.visualize", "minicnn.figures"]),
    ("the main job, and the course kit", ["minicnn.train", "minicnn.predict", "minicnn.interop",
                                          "minicnn.course", "minicnn.report"]),
    ("the command line", ["minicnn.cli", "minicnn.__main__", "minicnn"]),
]


def module_name(path, root):
    """minicnn/layers/conv.py -> "minicnn.layers.conv"; a package's __init__.py -> the package."""
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported_modules(path, root, modules):
    """The package's modules that ``path`` imports, anywhere in the file (functions included)."""
    name = module_name(path, root)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[:len(package.split(".")) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            # "from package import name": name may be a submodule or an attribute
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base
                       for alias in node.names]
        else:
            continue
        found |= {target for target in targets if target in modules and target != name}
    return found


def import_graph(root, package="minicnn"):
    """{module: set of modules it imports} for every .py file of ``package`` under ``root``."""
    paths = sorted((root / package).rglob("*.py"))
    modules = {module_name(path, root) for path in paths}
    return {module_name(path, root): imported_modules(path, root, modules) for path in paths}


def cycles(graph):
    """The strongly connected components with more than one module (Tarjan's algorithm)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.add(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def layer_of(module):
    """The index in LAYERS of the most specific prefix naming ``module`` (the root package: exactly)."""
    matches = [(len(prefix), rank) for rank, (_, prefixes) in enumerate(LAYERS)
               for prefix in prefixes
               if module == prefix or ("." in prefix and module.startswith(prefix + "."))]
    if not matches:
        raise AssertionError(f"{module} belongs to no layer of tests/test_imports.py: say where it "
                             "sits in the one-way order")
    return max(matches)[1]


def test_the_package_has_no_import_cycle():
    assert cycles(import_graph(REPO_ROOT)) == []


def upward_imports(graph):
    """Every import of a module from a higher layer, as a readable line."""
    return [f"{module} ({LAYERS[layer_of(module)][0]}) imports {target} "
            f"({LAYERS[layer_of(target)][0]})"
            for module, targets in sorted(graph.items()) for target in sorted(targets)
            if layer_of(target) > layer_of(module)]


def test_imports_flow_one_way():
    assert upward_imports(import_graph(REPO_ROOT)) == []


@pytest.fixture
def package_with_a_cycle(tmp_path):
    """minicnn/a.py imports b at the top, b imports a inside a function (a hidden cycle)."""
    package = tmp_path / "minicnn"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "sub" / "__init__.py").write_text("")
    (package / "a.py").write_text("from .sub import b\n")
    (package / "sub" / "b.py").write_text("def late():\n    from .. import a\n    return a\n")
    (package / "c.py").write_text("import minicnn.a\n")
    return tmp_path


def test_the_cycle_check_finds_a_cycle_hidden_in_a_function(package_with_a_cycle):
    graph = import_graph(package_with_a_cycle)
    assert graph["minicnn.c"] == {"minicnn.a"}
    assert cycles(graph) == [["minicnn.a", "minicnn.sub.b"]]


def test_the_direction_check_finds_an_upward_import(tmp_path):
    package = tmp_path / "minicnn"
    (package / "functional").mkdir(parents=True)
    for name in ("__init__.py", "functional/__init__.py", "layers.py"):
        (package / name).write_text("")
    (package / "functional" / "conv.py").write_text("def f():\n    from ..layers import Layer\n")
    assert upward_imports(import_graph(tmp_path)) == [
        "minicnn.functional.conv (the maths and the rules) imports minicnn.layers (network parts)"]
    with pytest.raises(AssertionError, match="no layer"):
        layer_of("minicnn.somewhere_new")


def test_the_files_are_all_found():
    graph = import_graph(REPO_ROOT)
    assert {"minicnn.functional.conv", "minicnn.backend.numba_ops", "minicnn.layers.base",
            "minicnn.cli.evaluate", "minicnn.__main__"} <= set(graph)
    assert "minicnn.functional" in graph["minicnn.layers.base"]
    assert "minicnn.functional.im2col" in graph["minicnn.kernels.conv_numba"]
