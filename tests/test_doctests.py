"""Every docstring example of the package runs (as bytewax runs its operator docstrings).

Modules are imported by their package names (``zeikan.streams.engine.facts``), so the
examples run against the installed code exactly as a user would call it.
"""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest


SKIP = ("zeikan.bench.__main__", "zeikan.cli.main", "zeikan.ui.cli")
"""Entry points that do their work at import."""


SUBPACKAGES = ("schemas", "streams", "features", "models", "images", "sim", "bench", "ops", "ui", "cli")


def _modules() -> list[str]:
    root = importlib.import_module("zeikan")
    names = [f"zeikan.{info.name}" for info in pkgutil.iter_modules(root.__path__) if not info.ispkg]
    for sub in SUBPACKAGES:
        package = importlib.import_module(f"zeikan.{sub}")
        names.append(package.__name__)
        for info in pkgutil.walk_packages(package.__path__, f"{package.__name__}."):
            if info.name not in SKIP and not info.name.rsplit(".", 1)[-1].startswith("test_"):
                names.append(info.name)
    return sorted(names)


MODULES = [name for name in _modules() if ">>>" in (importlib.util.find_spec(name).loader.get_source(name) or "")]  # type: ignore[union-attr]


def test_the_package_has_examples() -> None:
    assert len(MODULES) >= 20


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name: str) -> None:
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples of {name} failed"
