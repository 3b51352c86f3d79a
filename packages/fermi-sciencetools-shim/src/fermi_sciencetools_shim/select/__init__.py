"""gtselect: event selection with the ScienceTools cut semantics.

:mod:`.cuts` holds the cut objects, :mod:`.selection` the ordered cut list with the
add/supersede/merge rules and the filter string, :mod:`.gtselect` the tool.
"""

from fermi_sciencetools_shim.select.cuts import BitMaskCut, ConeCut, GtiCut, RangeCut, VersionCut
from fermi_sciencetools_shim.select.selection import DssError, Selection

__all__ = ["BitMaskCut", "ConeCut", "DssError", "GtiCut", "RangeCut", "Selection", "VersionCut"]
