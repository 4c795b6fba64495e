"""Import rules: PDF libraries only in the sandbox's child, sibling shells, one-way layers, no circles.

The import-linter contracts in pyproject.toml state the rules (`make lint` runs them); this module runs
them too, and checks by walking the source what a contract cannot say: which module may import a PDF
library, that nothing imports the child, and that the service process loads no PDF library at all.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from service.reading.pdf_limits import DEFAULT_LIMITS, PdfLimits
from service.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
PDF_LIBRARIES = {"pypdfium2", "pdfplumber", "pypdf", "fitz", "pdfminer"}
SANDBOX_CHILD = "service/reading/sandbox_child.py"


def imported_modules(path: Path) -> set[str]:
    """Every module a source file imports, at the top or inside a function."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def source_files() -> list[Path]:
    return sorted(p for package in ("service", "classifiers") for p in (ROOT / package).rglob("*.py"))


def test_only_the_sandbox_child_imports_a_pdf_library():
    offenders = {
        str(path.relative_to(ROOT)): sorted(
            m for m in imported_modules(path) if m.split(".")[0] in PDF_LIBRARIES
        )
        for path in source_files()
    }
    offenders = {path: mods for path, mods in offenders.items() if mods and path != SANDBOX_CHILD}
    assert not offenders, f"PDF libraries outside {SANDBOX_CHILD}: {offenders}"
    assert {"pypdfium2", "pdfplumber"} <= imported_modules(ROOT / SANDBOX_CHILD)


def test_nothing_imports_the_sandbox_child():
    """The child runs as its own capped process (``python -m service.reading.sandbox_child``), not in ours."""
    importers = [
        str(p.relative_to(ROOT))
        for p in source_files()
        if "service.reading.sandbox_child" in imported_modules(p)
    ]
    assert importers == []


def test_the_service_process_loads_no_pdf_library():
    """Importing the app, the CLI and batch runs (and with them the settings) loads no PDF library."""
    code = (
        "import sys, service.settings, service.app, service.cli, service.serving.batch,"
        " service.reading.ingest;"
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {sorted(PDF_LIBRARIES)!r}))"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "[]"


def test_settings_and_pdf_limits_share_one_set_of_defaults(monkeypatch, tmp_path):
    """``PdfLimits()`` is what the service reads with by default, OCR included (they once disagreed)."""
    for name in [n for n in __import__("os").environ if n.startswith("GAPLENS_")]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)  # no .env file or other local configuration
    assert Settings().pdf_limits() == PdfLimits() == DEFAULT_LIMITS
    assert Settings(ocr="off").pdf_limits().ocr_languages == ""


def test_the_import_contracts_hold():
    """pyproject.toml's contracts: PDF libraries, sibling shells, the store's layer, the layers in data-flow
    order, the classifiers below the shells and reading no documents outside training, no circles."""
    lint_imports = Path(sys.executable).with_name("lint-imports")
    done = subprocess.run(
        [str(lint_imports), "--no-cache"],
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT), "PATH": ""},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "9 kept, 0 broken" in done.stdout
