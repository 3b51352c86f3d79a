"""`make demo`: run the main job on the embedded defaults with what exists so far.

The full chain (simulate a delivery -> ingest -> halfpipe -> L1 -> FT1/FT2) needs
fermi-latsim, fermi-ingest, fermi-halfpipe and fermi-l1. Until those stages exist this
script runs the stages that do and says plainly which ones are missing; it never
fakes an output.
"""

from __future__ import annotations

import importlib
import sys

STAGES = [
    ("fermi_latsim.demo", "simulate a delivery and run the whole chain"),
]
COMMANDS = [
    "fermi_sciencetools_shim",
    "fermi_ingest",
    "fermi_halfpipe",
    "fermi_l1",
    "fermi_latsim",
    "fermi_isoc",
]


def main() -> int:
    print("Installed packages:")
    for name in COMMANDS:
        module = importlib.import_module(name)
        print(f"  {name:<26} {module.__version__}")
    for module_name, what in STAGES:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError:
            print(f"\nNot available yet: {module_name} ({what}). Nothing was simulated or written.")
            return 0
        return int(module.main([]) or 0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
