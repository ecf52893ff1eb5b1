"""The rules of the house hold, and breaking one fails the test command.

`lint-imports` (import-linter) checks the contracts in pyproject.toml on the real tree; these
tests run it on a copy of `idp/` with one forbidden import added, and see it refused.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.support import venv_bin

ROOT = Path(__file__).resolve().parents[2]


def lint_imports(tree: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    return subprocess.run(
        [venv_bin("lint-imports"), "--config", str(ROOT / "pyproject.toml"), "--no-cache"],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    shutil.copytree(ROOT / "idp", tmp_path / "idp", ignore=shutil.ignore_patterns("__pycache__"))
    return tmp_path


def add_import(tree: Path, module: str, imported: str) -> None:
    path = tree / (module.replace(".", "/") + ".py")
    path.write_text(path.read_text() + f"\nimport {imported}  # noqa: E402,F401\n")


def test_the_tree_keeps_every_contract(tree: Path) -> None:
    result = lint_imports(tree)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "imported", "contract"),
    [
        ("idp.saml.xml", "idp.store", "SAML is pure protocol"),
        ("idp.saml.inbound", "idp.applications.access", "SAML is pure protocol"),
        ("idp.store.store", "idp.accounts.sessions", "Layers"),
        ("idp.accounts.tokens", "idp.signin", "Layers"),
        ("idp.signin.launch", "idp.web", "Layers"),
        ("idp.accounts.mail", "flask", "Nothing but the web layer loads Flask"),
        ("idp.presenters", "idp.web.api", "Nothing but the web layer loads Flask"),
        ("idp.applications.service", "redis", "Only the store knows Redis and SQLite"),
        ("idp.telemetry.metrics", "idp.store", "Telemetry knows no layer of the service"),
        ("idp.saml.xmlsig", "prometheus_client", "The protocol and the store report through hooks"),
        ("idp.store.observed", "idp.telemetry.metrics", "The protocol and the store report through hooks"),
    ],
)
def test_an_import_against_a_rule_fails(tree: Path, module: str, imported: str, contract: str) -> None:
    add_import(tree, module, imported)
    result = lint_imports(tree)
    assert result.returncode != 0, result.stdout
    # The report wraps long contract names: read it as one line.
    verdict = re.search(re.escape(contract) + r".*? (KEPT|BROKEN)", " ".join(result.stdout.split()))
    assert verdict is not None and verdict.group(1) == "BROKEN", result.stdout
