"""Science validation of the simulated LAT + ground reconstruction against the published LAT.

Throws photon beams at several energies through fermi-latsim's detector, encodes them into
datagrams as in a delivery, decodes and reconstructs them with fermi-halfpipe and fermi-l1, and
measures on SOURCE-class events with a track:

* the 68 % containment angle of the reconstructed direction around the true one, all events,
  FRONT and BACK;
* the energy dispersion: median E_rec/E_true and the 68 % half width around it.

It prints ours beside the published Pass 8 values and writes plots to ``--out`` (default
``validation/output/``, gitignored). Exit status 1 if a value at 1 or 10 GeV is outside a factor
of two of the published one, or FRONT is not better than BACK.

Published values (P8R2_SOURCE_V6, FRONT+BACK, read off the plots of the Fermi LAT performance
page, whose address is ``fermi_latsim.validation.PERFORMANCE_PAGE`` and is printed by this
script; Pass 8 is described in Atwood et al. 2013, arXiv:1303.3514): PSF 68 % about 0.8 deg at 1 GeV and
0.15-0.2 deg at 10 GeV; energy resolution (68 % half width) about 9 % at 1 GeV and 8 % at 10 GeV.

Usage::

    python validation/validate_psf_edisp.py [--photons 20000] [--out validation/output]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from fermi_latsim import validation
from fermi_latsim.beam import photon_beam

ENERGIES_MEV = (300.0, 1000.0, 3000.0, 10000.0, 30000.0)


def _plots(out: Path, rows: list[validation.Performance], ratios: dict[float, np.ndarray]) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    e = np.array([r.energy_mev for r in rows]) / 1000.0
    pub_e = np.array(sorted(validation.PUBLISHED_P8R2_SOURCE)) / 1000.0
    pub = [validation.PUBLISHED_P8R2_SOURCE[k * 1000.0] for k in pub_e]
    written = []

    fig, ax = plt.subplots(figsize=(6, 4.5))
    ax.loglog(e, [r.psf68_deg for r in rows], "o-", label="ours, FRONT+BACK")
    ax.loglog(e, [r.psf68_front_deg for r in rows], "s--", label="ours, FRONT")
    ax.loglog(e, [r.psf68_back_deg for r in rows], "^--", label="ours, BACK")
    ax.loglog(pub_e, [p[0] for p in pub], "k*", ms=12, label="P8R2_SOURCE_V6 (published)")
    ax.fill_between(pub_e, [p[0] / 2 for p in pub], [p[0] * 2 for p in pub], color="0.85", label="x2 band")
    ax.set_xlabel("energy (GeV)")
    ax.set_ylabel("68 % containment angle (deg)")
    ax.legend(fontsize=8)
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    written.append(out / "psf68.png")
    fig.savefig(written[-1], dpi=120)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(6, 4.5))
    ax.semilogx(e, [r.energy_res68 for r in rows], "o-", label="ours, 68 % half width")
    ax.semilogx(e, [abs(r.energy_median_ratio - 1) for r in rows], "s:", label="ours, |median bias|")
    ax.semilogx(pub_e, [p[1] for p in pub], "k*", ms=12, label="P8R2_SOURCE_V6 (published)")
    ax.set_xlabel("energy (GeV)")
    ax.set_ylabel("dE/E")
    ax.legend(fontsize=8)
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    written.append(out / "energy_resolution.png")
    fig.savefig(written[-1], dpi=120)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(6, 4.5))
    for energy, r in ratios.items():
        ax.hist(r, bins=np.linspace(0.0, 2.0, 101), histtype="step", label=f"{energy / 1000:g} GeV")
    ax.set_xlabel("E_rec / E_true")
    ax.set_ylabel("events")
    ax.legend(fontsize=8)
    fig.tight_layout()
    written.append(out / "energy_dispersion.png")
    fig.savefig(written[-1], dpi=120)
    plt.close(fig)
    return written


def main(argv: Sequence[str] | None = None) -> int:
    """Run the validation; return 0 if the 1 and 10 GeV checks pass, else 1."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--photons", type=int, default=20000, help="photons per energy (default 20000)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--theta-max", type=float, default=60.0, help="max off-axis angle (deg)")
    parser.add_argument("--out", default=str(Path(__file__).resolve().parent / "output"))
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()
    rows, ratios = [], {}
    for k, energy in enumerate(ENERGIES_MEV):
        beam = photon_beam(energy, args.photons, seed=args.seed + k, theta_max_deg=args.theta_max)
        perf = validation.measure(beam)
        sel = validation.source_class(beam)
        ratios[energy] = beam.recon["ENERGY"][sel] / energy
        rows.append(perf)
        print(perf.row(), f"[{time.monotonic() - t0:.0f} s]", flush=True)

    print(f"\nPublished: {validation.PUBLISHED_REFERENCE}")
    print(
        f"{'energy':>8} | {'PSF68 ours':>10} {'published':>9} | {'dE/E68 ours':>11} {'published':>9} | FRONT < BACK"
    )
    failures = []
    for r in rows:
        if r.energy_mev not in validation.PUBLISHED_P8R2_SOURCE:
            continue
        psf_pub, e_pub = validation.PUBLISHED_P8R2_SOURCE[r.energy_mev]
        fb = r.psf68_front_deg < r.psf68_back_deg
        print(
            f"{r.energy_mev / 1000:6.1f} GeV | {r.psf68_deg:10.3f} {psf_pub:9.2f} | "
            f"{r.energy_res68:11.3f} {e_pub:9.2f} | {'yes' if fb else 'NO'}"
        )
        if not psf_pub / 2 < r.psf68_deg < 2 * psf_pub:
            failures.append(f"PSF68 at {r.energy_mev:g} MeV: {r.psf68_deg:.3f} deg vs published {psf_pub}")
        if not e_pub / 2 < r.energy_res68 < 2 * e_pub:
            failures.append(f"dE/E68 at {r.energy_mev:g} MeV: {r.energy_res68:.3f} vs published {e_pub}")
        if not fb:
            failures.append(f"FRONT not better than BACK at {r.energy_mev:g} MeV")
    for path in _plots(out, rows, ratios):
        print(f"plot: {path}")
    for f in failures:
        print(f"FAIL: {f}")
    print(f"{'FAILED' if failures else 'PASSED'} in {time.monotonic() - t0:.0f} s")
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
