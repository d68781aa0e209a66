"""The architecture's arrows (docs/policy.md, pyproject's import-linter contracts): the
engine imports nothing from the domain, the read policy imports no page nor write."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("config", "api", "notifications", "grants", "workflows", "security")


def _lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(Path(sys.executable).with_name("lint-imports")), "--no-cache"],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def _copy(tmp_path: Path) -> Path:
    for name in PACKAGES:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__", "migrations"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def test_the_contracts_hold() -> None:
    result = _lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr


def test_an_import_of_the_domain_inside_the_engine_breaks_make_lint(tmp_path: Path) -> None:
    tree = _copy(tmp_path)
    (tree / "workflows" / "leak.py").write_text(
        "def f():\n    from grants.models import Application\n    return Application\n"
    )
    result = _lint_imports(tree)
    assert result.returncode != 0
    assert "workflows.leak -> grants.models" in result.stdout


def test_a_page_imported_by_the_policy_breaks_make_lint(tmp_path: Path) -> None:
    tree = _copy(tmp_path)
    (tree / "grants" / "policy" / "leak.py").write_text("from grants.web.staff import views  # noqa\n")
    result = _lint_imports(tree)
    assert result.returncode != 0
    assert "grants.policy.leak -> grants.web.staff.views" in result.stdout
