"""gtselect at a real pseudo-terminal: prompts for its a-mode parameters, re-asks out-of-range
values, learns them in $PFILES; never prompts with mode=h or when stdin is not a terminal."""

from __future__ import annotations

import os
import select
import subprocess
import sys
import time

import pytest
from astropy.io import fits

COMMAND = [sys.executable, "-m", "fermi_sciencetools_shim.select.gtselect"]


class Terminal:
    """A command on a pseudo-terminal (os.openpty): wait for text, then answer."""

    def __init__(self, argv: list[str], env: dict[str, str], cwd) -> None:
        self.master, slave = os.openpty()
        self.process = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=env, cwd=cwd)
        os.close(slave)
        self.seen = ""

    def expect(self, text: str, timeout: float = 120.0) -> str:
        deadline = time.monotonic() + timeout
        while text not in self.seen:
            ready, _, _ = select.select([self.master], [], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                raise AssertionError(f"timed out waiting for {text!r}; got {self.seen!r}")
            try:
                chunk = os.read(self.master, 4096).decode()
            except OSError:  # the command exited and closed the terminal
                raise AssertionError(f"ended before {text!r}; got {self.seen!r}") from None
            self.seen += chunk.replace("\r\n", "\n")
        head, _, self.seen = self.seen.partition(text)
        return head

    def answer(self, text: str) -> None:
        os.write(self.master, (text + "\n").encode())

    def finish(self, timeout: float = 300.0) -> int:
        code = self.process.wait(timeout)
        os.close(self.master)
        return code


@pytest.mark.requires_data
def test_prompting_learning_and_mode_h_on_a_terminal(shared_data, tmp_path, private_pfiles):
    ft1 = shared_data / "gammalib_p8v2" / "ft1.fits.gz"
    env = {**os.environ, "PFILES": f"{private_pfiles};"}
    term = Terminal(COMMAND, env, tmp_path)
    term.expect("Input FT1 file [] ")
    term.answer(str(ft1))
    term.expect("Output FT1 file [] ")
    term.answer("first.fits")
    term.expect("RA for new search center (degrees) (0:360) [INDEF] ")
    term.answer("400")
    term.expect("Parameter ra: value 400 is greater than maximum value 360.\n")
    term.expect("RA for new search center (degrees) (0:360) [INDEF] ")
    term.answer("83.633")
    term.expect("Dec for new search center (degrees) (-90:90) [INDEF] ")
    term.answer("22.015")
    term.expect("radius of new search region (degrees) (0:180) [INDEF] ")
    term.answer("200")
    term.expect("Parameter rad: value 200 is greater than maximum value 180.\n")
    term.answer("5")
    term.expect("start time (MET in s) (0:) [INDEF] ")
    term.answer("")
    term.expect("end time (MET in s) (0:) [INDEF] ")
    term.answer("")
    term.expect("lower energy limit (MeV) (0:) [30] ")
    term.answer("1000")
    term.expect("upper energy limit (MeV) (0:) [300000] ")
    term.answer("")
    shown = term.expect("maximum zenith angle value (degrees) (0:180) [180] ")
    assert "minimum zenith" not in shown  # zmin is hidden: never asked
    term.answer("90")
    term.expect("Done.")
    assert term.finish() == 0
    learned = (private_pfiles / "gtselect.par").read_text()
    assert "83.633" in learned and '"first.fits"' in learned

    # Second run: the learned values are the defaults shown; Enter keeps them.
    term = Terminal([*COMMAND, "outfile=second.fits"], env, tmp_path)
    term.expect(f"Input FT1 file [{ft1}] ")
    term.answer("")
    for prompt in ("(0:360) [83.633] ", "(-90:90) [22.015] ", "(0:180) [5.0] ", "[INDEF] ", "[INDEF] ",
                   "(0:) [1000.0] ", "(0:) [300000.0] ", "(0:180) [90.0] "):  # fmt: skip
        term.expect(prompt)
        term.answer("")
    term.expect("Done.")
    assert term.finish() == 0

    # mode=h: nothing asked, the learned values are used.
    term = Terminal([*COMMAND, "outfile=third.fits", "mode=h"], env, tmp_path)
    term.expect("Done.")
    assert "[" not in term.seen
    assert term.finish() == 0
    events = []
    for name in ("first.fits", "second.fits", "third.fits"):
        with fits.open(tmp_path / name) as h:
            events.append(h["EVENTS"].data["EVENT_ID"].tolist())
    assert events[0] and events[0] == events[1] == events[2]


def test_no_prompt_when_stdin_is_not_a_terminal(tmp_path, private_pfiles):
    env = {**os.environ, "PFILES": f"{private_pfiles};"}
    done = subprocess.run(COMMAND, stdin=subprocess.DEVNULL, capture_output=True, text=True, env=env, cwd=tmp_path,
                          timeout=300)  # fmt: skip
    assert done.returncode == 1
    assert done.stdout == "" and done.stderr == "gtselect: error: parameter 'infile': is required\n"
