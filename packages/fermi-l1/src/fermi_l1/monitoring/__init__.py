"""Per-run data-quality monitoring of L1: histograms from digi, recon and merit, declarative checks,
verdicts, plots (see ``docs/lifecycle/monitoring.md``; public reader :mod:`fermi_l1.monitoring.published`)."""
