"""``gtmktime``: good time intervals from the spacecraft file, applied to an event file."""

from fermi_sciencetools_shim.mktime.filter_expr import FilterExpression, parse_filter
from fermi_sciencetools_shim.mktime.ft2_gti import ft2_gti
from fermi_sciencetools_shim.mktime.gtmktime import MktimeResult, gtmktime, main

__all__ = ["FilterExpression", "MktimeResult", "ft2_gti", "gtmktime", "main", "parse_filter"]
