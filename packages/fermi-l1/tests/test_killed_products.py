"""A run killed while its products are being written leaves nothing that looks like a product, and
the next attempt gives exactly the products of an uninterrupted run, byte for byte.

The process is really killed (SIGKILL, no clean-up of its own) at the worst moments: with the three
FT1 files, or the two FT2 files, written but not yet stamped with the run's processing date nor
moved into place.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from fermi_l1 import synthetic
from fermi_l1.pipeline.inputs import write_run_inputs
from fermi_l1.pipeline.l1run import make_run_products

RUN = 239557414
DATE = "2024-05-01T12:00:00"

#: make_run_products in a child process that SIGKILLs itself at the first call of the function named argv[2]
KILLED_RUN = """
import json, os, signal, sys
import fermi_l1.ft1.make, fermi_l1.ft2.make
from fermi_l1.pipeline.l1run import make_run_products

def die(*args, **kwargs):
    os.kill(os.getpid(), signal.SIGKILL)

module, name = sys.argv[2].rsplit(".", 1)
setattr(sys.modules[module], name, die)
make_run_products(**json.loads(sys.argv[1]))
"""


def _inputs(root: Path) -> Path:
    samples = synthetic.spacecraft_samples(RUN - 5.0, 70.0)
    t0, t1 = RUN + 0.5, RUN + 60.0
    merit = synthetic.merit_table(samples, t0, t1, 120, seed=3)
    chunks = [{k: v[:60] for k, v in merit.items()}, {k: v[60:] for k, v in merit.items()}]
    return write_run_inputs(root / "inputs", RUN, t0, t1, samples, chunks)


def _params(home: Path, inputs: Path) -> dict:
    return {
        "input_dir": str(inputs),
        "products_dir": str(home / "products"),
        "outbox": str(home / "outbox"),
        "date": DATE,
        "db_url": f"sqlite:///{home / 'fermi.db'}",
    }


def _tree(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` (hidden ones included) with its bytes."""
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.parametrize(
    "kill_at",
    ["fermi_l1.ft1.make.stamp_date", "fermi_l1.ft2.make.stamp_date"],
    ids=["ft1-written-not-stamped", "ft2-written-not-stamped"],
)
def test_a_run_killed_while_writing_products_restarts_to_exactly_the_products(tmp_path, kill_at):
    inputs = _inputs(tmp_path)
    reference, victim = tmp_path / "reference", tmp_path / "victim"
    make_run_products(**_params(reference, inputs))
    expected = _tree(reference / "products")
    assert len(expected) == 5 and all(name.endswith(".fit") for name in expected)

    killed = subprocess.run(
        [sys.executable, "-c", KILLED_RUN, json.dumps(_params(victim, inputs)), kill_at],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-3000:]
    # what the killed attempt left under a product's name and place is a finished product
    left = _tree(victim / "products")
    in_place = {n: b for n, b in left.items() if not Path(n).parent.name.startswith(".")}
    assert left and {n: b == expected.get(n) for n, b in in_place.items()} == dict.fromkeys(in_place, True)

    make_run_products(**_params(victim, inputs))  # the next attempt
    assert _tree(victim / "products") == expected
