"""The opt-in compile log of ``fermi_sciencetools_shim.jit`` (``FERMI_JIT_LOG``)."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("numba")


SCRIPT = """
import sys
sys.path.insert(0, {folder!r})
import numpy as np
import _jit_log_kernel as k
print(k.twice(np.arange(4, dtype=np.int64)).sum())
"""


#: the kernel run in a pool worker (spawned: a fresh interpreter that inherits the environment)
POOL_SCRIPT = """
import sys
sys.path.insert(0, {folder!r})
import multiprocessing as mp
import numpy as np

def work(n):
    import _jit_log_kernel as k
    return int(k.twice(np.arange(n, dtype=np.int64)).sum())

if __name__ == "__main__":
    with mp.get_context("spawn").Pool(1) as pool:
        print(pool.apply(work, (4,)))
"""


def _run(
    tmp_path: Path, cache: Path | None, log: Path, script: str = SCRIPT, extra: dict | None = None
) -> str:
    env = {**os.environ, "FERMI_JIT_LOG": str(log), "FERMI_NUMBA_CACHE": "1", **(extra or {})}
    env.pop("NUMBA_CACHE_DIR", None)
    if cache is not None:
        env["NUMBA_CACHE_DIR"] = str(cache)
    path = tmp_path / "main.py"
    path.write_text(script.format(folder=str(tmp_path / "src")), encoding="utf-8")
    proc = subprocess.run([sys.executable, str(path)], env=env, capture_output=True, text=True, check=True)
    return proc.stdout.strip()


def _kernel_module(tmp_path: Path) -> Path:
    src = tmp_path / "src"
    src.mkdir()
    (src / "_jit_log_kernel.py").write_text(
        "from fermi_sciencetools_shim.jit import njit\n\n\n"
        "@njit\ndef _inner(x):\n    return x * 2\n\n\n"
        "@njit\ndef twice(a):\n    out = a.copy()\n    for i in range(a.size):\n        out[i] = _inner(a[i])\n"
        "    return out\n",
        encoding="utf-8",
    )
    return src


def test_compile_log_written_on_miss_and_empty_on_cache_hit(tmp_path: Path) -> None:
    _kernel_module(tmp_path)
    cache, log1, log2 = tmp_path / "cache", tmp_path / "log1", tmp_path / "log2"
    assert _run(tmp_path, cache, log1) == "12"
    files = list(log1.glob("jit-*.tsv"))
    assert len(files) == 1
    lines = files[0].read_text(encoding="utf-8").splitlines()
    assert len(lines) == 1  # the callee compiled inside the outer compilation is not a line of its own
    pid, name, sig, seconds = lines[0].split("\t")
    assert files[0].name == f"jit-{pid}.tsv"
    assert name == "_jit_log_kernel.twice"
    assert sig == "(array(int64, 1d, C))"
    assert float(seconds) > 0.0
    # same cache: loaded, not compiled, so nothing is logged
    assert _run(tmp_path, cache, log2) == "12"
    assert not list(log2.glob("jit-*.tsv"))


def test_cache_hits_from_a_read_only_install_in_pool_workers(tmp_path: Path) -> None:
    """Kernels installed read only (a conda prefix) cache in the default folder; a pool worker hits it."""
    src = _kernel_module(tmp_path)
    for p in (src / "_jit_log_kernel.py", src):
        p.chmod(stat.S_IREAD | stat.S_IEXEC if p.is_dir() else stat.S_IREAD)
    tmp = tmp_path / "tmp"  # the default cache folder is under the temporary directory
    tmp.mkdir()
    try:
        log1, log2 = tmp_path / "log1", tmp_path / "log2"
        assert _run(tmp_path, None, log1, POOL_SCRIPT, {"TMPDIR": str(tmp)}) == "12"
        lines = [ln for f in log1.glob("jit-*.tsv") for ln in f.read_text(encoding="utf-8").splitlines()]
        assert [ln.split("\t")[1] for ln in lines] == ["_jit_log_kernel.twice"]
        assert list(tmp.glob("fermi-numba-cache-*"))
        assert not list(src.glob("__pycache__/*.nbi"))  # nothing written beside the module
        assert _run(tmp_path, None, log2, POOL_SCRIPT, {"TMPDIR": str(tmp)}) == "12"
        assert not list(log2.glob("jit-*.tsv"))
    finally:
        src.chmod(stat.S_IRWXU)
