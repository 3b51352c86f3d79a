"""LAT event reconstruction (numba kernels with numpy reference twins)."""

from fermi_l1.recon.reconstruct import RECON_COLUMNS, interpolate_attitude, reconstruct, sky_directions

__all__ = ["RECON_COLUMNS", "interpolate_attitude", "reconstruct", "sky_directions"]
