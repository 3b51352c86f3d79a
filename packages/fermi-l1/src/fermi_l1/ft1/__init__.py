"""FT1 production: chunk FT1s from merit, merged per run, GTI from FT2, class selections.

* :mod:`.merit_input` -- merit tables (merit files or arrays) as FT1 columns.
* :mod:`.make` -- the L1 chain (makeFT1, mergeFT1, gtiFT1, filterFT1) through the shim tools.
"""

from fermi_l1.ft1.make import Ft1Products, make_run_ft1, merge_ft1, write_chunk_ft1
from fermi_l1.ft1.merit_input import ft1_columns

__all__ = ["Ft1Products", "ft1_columns", "make_run_ft1", "merge_ft1", "write_chunk_ft1"]
