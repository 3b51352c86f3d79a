"""Trending of LAT quantities and the weekly report.

Data enter through explicit input functions (:mod:`fermi_isoc.trending.inputs`) that turn
housekeeping counters, FT2 files, ingest tables or calibration results into time series; those
can be stored as ``isoc_metric_sample`` rows (which the alarms and the report read), so the
pipeline can feed them later without isoc knowing where they come from.
"""
