"""Fermitools-compatible ``GtApp`` module (``from GtApp import GtApp``), installed by fermi-sciencetools-shim.

The Fermitools ship ``GtApp.py`` beside their binaries; scripts and fermipy import it as a
top-level module. This one runs the shim's gtselect, gtmktime, gtbin and gtltcube
(see :mod:`fermi_sciencetools_shim.gtapp`).
"""

from fermi_sciencetools_shim.gtapp import GtApp, Pil

__all__ = ["GtApp", "Pil"]
