"""Fermitools-compatible ``gt_apps`` module, installed by fermi-sciencetools-shim.

The instances the Fermitools' ``gt_apps`` defines for the four data-preparation tools::

    filter      gtselect      maketime   gtmktime
    counts_map  gtbin         evtbin     gtbin
    expCube     gtltcube

The other instances of the Fermitools' module (``like``, ``expMap``, ``srcMaps`` ...) name
tools the shim does not implement; asking for one raises :class:`AttributeError` saying so.
"""

from fermi_sciencetools_shim.gtapp import GtApp

__all__ = ["GtApp", "counts_map", "evtbin", "expCube", "filter", "maketime"]

filter = GtApp("gtselect", "dataSubselector")
maketime = GtApp("gtmktime", "dataSubselector")
counts_map = GtApp("gtbin", "evtbin")
evtbin = GtApp("gtbin", "evtbin")
expCube = GtApp("gtltcube", "Likelihood")

# Instances of the Fermitools' gt_apps for tools outside the shim, and their tools.
_NOT_PROVIDED = {
    "addCubes": "gtltsum",
    "expMap": "gtexpmap",
    "diffResps": "gtdiffrsp",
    "like": "gtlike",
    "TsMap": "gttsmap",
    "srcMaps": "gtsrcmaps",
    "model_map": "gtmodel",
    "gtexpcube2": "gtexpcube2",
    "rspgen": "gtrspgen",
}


def __getattr__(name: str) -> object:
    if name in _NOT_PROVIDED:
        raise AttributeError(
            f"gt_apps.{name} ({_NOT_PROVIDED[name]}) is not provided by fermi-sciencetools-shim, "
            "which implements gtselect, gtmktime, gtbin and gtltcube"
        )
    raise AttributeError(f"module 'gt_apps' has no attribute {name!r}")
