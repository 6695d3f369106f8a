"""Every Python code block of the README and of the documentation runs.

The blocks of one page (```python fences in README.md and docs/**/*.md,
``.. code-block:: python`` in docs/**/*.rst) run in order in one namespace,
from a temporary directory, as a reader would paste them.  A block that
imports an optional package that is not installed (dask, distributed,
dask_ml, onnx, onnxruntime, skl2onnx, torch, matplotlib, skops) skips the
page from that block on; nothing else skips.  The gallery's scripts
(examples/) are run by the documentation build instead.
"""

import ast
import importlib.util
import re
import warnings
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
OPTIONAL = {"dask", "distributed", "dask_ml", "onnx", "onnxruntime", "skl2onnx", "torch",
            "matplotlib", "skops"}
_MARKDOWN = re.compile(r"^```python\n(.*?)^```", re.S | re.M)
_RST = re.compile(r"^\.\. code-block:: python\n((?:\n|   .*\n)+)", re.M)


def code_blocks(path):
    """(line number, source) of each Python code block of a page, in order."""
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".md":
        matches = [(m.start(1), m.group(1)) for m in _MARKDOWN.finditer(text)]
    else:
        matches = [(m.start(1), "\n".join(line[3:] for line in m.group(1).splitlines()) + "\n")
                   for m in _RST.finditer(text)]
    return [(text.count("\n", 0, start) + 1, source) for start, source in matches]


def missing_optional_packages(source):
    """The optional packages the block imports that are not installed."""
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return sorted(n for n in names & OPTIONAL if importlib.util.find_spec(n) is None)


PAGES = [p for p in [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md")),
                     *sorted((ROOT / "docs").rglob("*.rst"))]
         if "_build" not in p.parts and "generated" not in p.parts
         and "auto_examples" not in p.parts and code_blocks(p)]


def test_pages_with_code_are_found():
    names = {p.relative_to(ROOT).as_posix() for p in PAGES}
    assert {"README.md", "docs/quick_start.md", "docs/user_guide/optimizers.md",
            "docs/user_guide/scaling.md"} <= names


def test_block_extraction():
    page = ROOT / "docs" / "user_guide" / "scaling.md"
    blocks = code_blocks(page)
    assert len(blocks) == 2 and "GridSearchCV" in blocks[0][1] and "Incremental" in blocks[1][1]
    assert page.read_text().splitlines()[blocks[0][0] - 2] == "```python"
    # only optional packages count, by their top-level name, whether installed or not
    installed = importlib.util.find_spec("skl2onnx") is not None
    assert missing_optional_packages("import os\nfrom skl2onnx.common import data_types") == (
        [] if installed else ["skl2onnx"])
    assert missing_optional_packages("import numpy\nfrom . import x") == []


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_code_blocks_run(page, tmp_path, monkeypatch):
    if importlib.util.find_spec("matplotlib") is not None:
        import matplotlib

        matplotlib.use("Agg")
    monkeypatch.chdir(tmp_path)
    namespace = {"__name__": "__docs__"}
    try:
        for line, source in code_blocks(page):
            missing = missing_optional_packages(source)
            if missing:
                pytest.skip(f"{page.name}:{line} and later blocks need {', '.join(missing)}")
            code = compile("\n" * (line - 1) + source, str(page), "exec")
            with warnings.catch_warnings():
                # examples cap max_iter to stay fast; scikit-learn's note says so
                warnings.filterwarnings("ignore", message=".*Maximum iterations")
                exec(code, namespace)
    finally:
        if "matplotlib.pyplot" in __import__("sys").modules:
            __import__("matplotlib.pyplot").pyplot.close("all")


def test_api_reference_lists_every_public_name():
    # docs/api.rst names each object of the public modules' __all__ in an
    # autosummary under its module (the onnx module has a page of its own)
    text = (ROOT / "docs" / "api.rst").read_text()
    sections = re.split(r"^\.\. currentmodule:: ", text, flags=re.M)[1:]
    listed = {}
    for section in sections:
        module, _, body = section.partition("\n")
        names = set(re.findall(r"^   (\w+)$", body, flags=re.M))
        listed.setdefault(module.strip(), set()).update(names)
    for module_name in ("gainprop", "gainprop.optimizers", "gainprop.schedules",
                        "gainprop.callbacks", "gainprop.plotting", "gainprop.model_selection",
                        "gainprop.datasets", "gainprop.preprocessing", "gainprop.experiments"):
        module = importlib.import_module(module_name)
        public = set(module.__all__) - {"__version__"}
        assert public <= listed.get(module_name, set()), (module_name, public - listed[module_name])
    assert "onnx" in listed["gainprop"]
