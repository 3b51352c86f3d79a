"""Release validation: compare two versions (or reprocessing campaigns) of the same runs.

The seeds' "new version validation and approval". :func:`~fermi_l1.validation.selection.load_side`
finds each side's product files through the data catalog, :func:`~fermi_l1.validation.compare.compare`
computes the checks (event counts per class and type, column distributions with a Kolmogorov–Smirnov
test, the events that changed, GTI, livetime, FT2) against the thresholds of
:func:`~fermi_l1.validation.config.load_config`, and :func:`~fermi_l1.validation.report.write_report`
writes the HTML report, its plots and the JSON verdict (accept / warn / reject). The command is
``fermi-l1 validate`` (:mod:`fermi_l1.validation.cli`); docs/lifecycle/release-validation.md
describes it for operators.
"""
