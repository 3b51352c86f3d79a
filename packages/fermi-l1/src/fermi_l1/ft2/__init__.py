"""FT2 production: 1 s rows from attitude/orbit samples and GEM livetime counters, then 30 s rows.

* :mod:`.attitude` -- sky directions of the spacecraft axes (interpolation between samples is
  :mod:`fermi_core.mission.pointing`).
* :mod:`.geometry` -- ground point, zenith and Sun through astropy coordinates.
* :mod:`.geomag` -- McIlwain B/L and geomagnetic latitudes from a centred dipole.
* :mod:`.livetime` -- LIVETIME per row from the livetime counters.
* :mod:`.make` -- the rows and the two files (``gll_pt1s_...``, ``gll_pt_...``).
"""

from fermi_l1.ft2.make import Ft2Products, SpacecraftDataError, make_ft2_rows, row_edges, write_ft2_products

__all__ = ["Ft2Products", "SpacecraftDataError", "make_ft2_rows", "row_edges", "write_ft2_products"]
