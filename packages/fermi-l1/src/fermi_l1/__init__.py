"""Level 1 processing: digi, reconstruction, merit, FT1/FT2, catalog, FSSC export."""

from fermi_l1._version import __version__

__all__ = ["__version__"]
