"""Reading and writing the LAT Level-1 products: FT1 event files and FT2 spacecraft files.

* :mod:`.filelist` -- ``@list`` file-name expansion.
* :mod:`.ft1` -- EVENTS/GTI reading, bit-array columns, the Pass 8 FT1 layout and writer.
* :mod:`.ft2` -- SC_DATA reading, the FT2 layouts and writer.
* :mod:`.headers` -- TSTART/TSTOP/DATE-OBS/DATE-END/ONTIME keyword updates.
* :mod:`.dss` -- data-subspace (DSS) keywords.
* :mod:`.ft2_merge` -- 1 s to 30 s FT2 merging (ft2Util ``mergeFT2`` rules).
"""

from fermi_sciencetools_shim.io.dss import DssKey, read_dss, write_dss
from fermi_sciencetools_shim.io.filelist import expand_file_list
from fermi_sciencetools_shim.io.ft1 import (
    decode_bits,
    encode_bits,
    pass_version,
    read_events,
    read_gti,
    write_ft1,
)
from fermi_sciencetools_shim.io.ft2 import read_ft2, write_ft2

__all__ = [
    "DssKey",
    "decode_bits",
    "encode_bits",
    "expand_file_list",
    "pass_version",
    "read_dss",
    "read_events",
    "read_ft2",
    "read_gti",
    "write_dss",
    "write_ft1",
    "write_ft2",
]
