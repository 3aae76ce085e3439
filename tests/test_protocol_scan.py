"""The phases use nothing of the built-in trainer beyond the protocol: a source scan."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# the built-in trainer's data loader and model builder: reached only through its protocol
PRIVATE = ("workflow.trainer.data", "workflow.trainer.models")


def _imports(path: Path) -> list[str]:
    """Every module `path` imports (at any depth: inside functions too)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.append(node.module)
            found += [f"{node.module}.{alias.name}" for alias in node.names]
    return found


# rule (acceptance): no module under phases/ imports the built-in trainer's data loader
# (workflow.trainer.data) or model builder (workflow.trainer.models), by any import form
def test_no_phase_imports_the_builtin_data_loader_or_model_builder() -> None:
    offenders = sorted(
        f"{path.relative_to(ROOT).as_posix()}: {name}"
        for path in (ROOT / "phases").rglob("*.py")
        for name in _imports(path)
        if name in PRIVATE or name.startswith(tuple(f"{p}." for p in PRIVATE))
    )
    assert offenders == []


# rule: the scan sees an import inside a function, as the phases write them
def test_the_scan_sees_imports_inside_functions(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from workflow.trainer.data import load_data\n"
                      "    import workflow.trainer.models\n")
    assert {"workflow.trainer.data", "workflow.trainer.models"} <= set(_imports(module))
