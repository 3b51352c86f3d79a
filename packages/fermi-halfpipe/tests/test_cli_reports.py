"""What ``fermi-halfpipe merge`` tells the operator when a delivery is merged a second time."""

from __future__ import annotations

import numpy as np

from fermi_halfpipe.cli import main
from fermi_halfpipe.synthetic import make_run
from fermi_ingest.ingest import ingest
from fermi_ingest.synthetic import interleave, write_delivery


def test_merging_a_delivery_again_says_it_was_already_merged(home, tmp_path, capsys):
    run = make_run(np.random.default_rng(3), 40, events_per_datagram=6)
    write_delivery(tmp_path / "dl", "230401001", [interleave([run.packets(956), run.packets(957)])])
    ingest(tmp_path / "dl")
    assert main(["merge", "230401001"]) == 0
    first = capsys.readouterr().out
    assert "already merged" not in first and f"run {run.run}: complete; delivered 40" in first
    assert main(["merge", "230401001"]) == 0
    again = capsys.readouterr().out
    assert "delivery 230401001: 1 runs, 0 problems (already merged: nothing done, outputs checked)" in again
    assert again.splitlines()[1:] == first.splitlines()[1:]  # the same per-run report
