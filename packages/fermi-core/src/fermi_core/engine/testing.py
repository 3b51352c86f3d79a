"""Test support of the task engine: a toy distribution that registers tasks by entry point.

Tests of the engine and of its users register toy tasks the way a real package does (an
``fermi.tasks`` entry point in an installed distribution), so the registry is exercised as in
production.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping
from pathlib import Path


def write_task_distribution(lib: Path, module: str, source: str, tasks: Mapping[str, str]) -> Path:
    """Write module ``module`` (``source``) and its distribution's metadata into folder ``lib``.

    ``tasks`` maps each task name to the module attribute holding its ``TaskSpec``. Put ``lib``
    on ``sys.path`` and refresh :mod:`fermi_core.engine.registry` to see the tasks. Returns ``lib``.
    """
    package = lib / module
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(textwrap.dedent(source), encoding="utf-8")
    name = module.replace("_", "-")
    info = lib / f"{module}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n", encoding="utf-8")
    points = "".join(f"{task} = {module}:{attr}\n" for task, attr in tasks.items())
    (info / "entry_points.txt").write_text(f"[fermi.tasks]\n{points}", encoding="utf-8")
    return lib
