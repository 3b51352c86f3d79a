"""Bad time intervals and the FT2 ``DATA_QUAL`` they set (interface Q of the data-quality work).

* :mod:`.models` -- the table ``l1_quality_interval``;
* :mod:`.intervals` -- ``flag`` / ``unflag`` / ``list_intervals`` (operators, ``fermi-isoc dq``);
* :mod:`.auto` -- the automatic rate-excursion check (source ``auto``);
* :mod:`.cli` -- ``fermi-l1 quality flag|unflag|list|check``.

Setting ``DATA_QUAL`` in the rows is :mod:`fermi_l1.ft2.quality`; re-issuing the affected runs
as their next version is :func:`fermi_l1.versions.plan_versions`. See
``docs/lifecycle/bad-time-intervals.md``.
"""
