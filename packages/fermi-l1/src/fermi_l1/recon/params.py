"""Reconstruction and classification constants [ours], shared by the kernels and the reference.

Public: the simulator (fermi-latsim) validates its output against the same cuts. The LAT
geometry these build on is :mod:`fermi_l1.instrument`.

Event classes and types are the Pass 8 bits of products.md section 4; the cuts that set them are
our simple stand-ins for the Pass 8 classification trees.
"""

from __future__ import annotations

import math

from fermi_l1 import instrument as inst

#: single-hit resolution of a cluster (mm): strip pitch / sqrt(12)
SIGMA_HIT_MM = inst.STRIP_PITCH_MM / math.sqrt(12.0)
#: a cluster is attached to a track when within this distance (mm) of the prediction
TRACK_WINDOW_MM = 4.0
#: floor of the energy (MeV) that scales the multiple-scattering track window
MIN_WINDOW_ENERGY_MEV = 30.0
#: the multiple-scattering window never exceeds this (mm)
TRACK_MAX_WINDOW_MM = 15.0
#: planes in a row without a hit before a track stops
TRACK_MAX_GAP = 2
#: hit planes (from the top) tried as the first point of a track
TRACK_SEED_PLANES = 3
#: tracks steeper than this |du/dz| (about 80 degrees) are not followed
TRACK_MAX_SLOPE = 5.7
#: minimum hits per view for a track to count
TRACK_MIN_HITS = 3
#: fixed-point iterations of the leakage correction
ENERGY_ITERATIONS = 8
#: cos(theta) floor used in the path-length factor of the leakage correction
MIN_COS_THETA = 0.2

# event classes (EVENT_CLASS bits)
TRANSIENT_BITS = 1 | 2 | 4 | 8 | 16 | 32 | 64 | 32768 | 65536
SOURCE = 128
CLEAN = 256
ULTRACLEAN = 512
ULTRACLEANVETO = 1024
SOURCEVETO = 2048
# event types (EVENT_TYPE bits)
FRONT, BACK = 1, 2
PSF_BITS = (4, 8, 16, 32)  # PSF0 (worst) .. PSF3 (best)
EDISP_BITS = (64, 128, 256, 512)  # EDISP0 (worst) .. EDISP3 (best)

#: minimum calorimeter energy (MeV) of any classified event
MIN_CAL_ENERGY_MEV = 5.0
#: ACD: a tile crossed by the track extrapolation vetoes the event above this energy (MeV)
ACD_VETO_MEV = 0.3 * inst.ACD_MIP_MEV
#: transient classes tolerate a crossed tile up to this energy (backsplash of big showers)
ACD_TRANSIENT_MAX_MEV = 5.0 * inst.ACD_MIP_MEV
#: track quality: rms residual (mm) of both views for SOURCE, CLEAN, ULTRACLEAN
SOURCE_MAX_RMS_MM = 2.0
CLEAN_MAX_RMS_MM = 1.0
#: CLEAN and tighter need this many hits per view
CLEAN_MIN_HITS = 5
#: ULTRACLEAN needs at least this energy (MeV)
ULTRACLEAN_MIN_MEV = 100.0
#: ULTRACLEANVETO: total ACD energy of the event below this (MeV)
ULTRACLEANVETO_MAX_ACD_MEV = ACD_VETO_MEV
#: PSF types: upper edges of the estimated 68 % direction error (deg) for PSF3, PSF2, PSF1
PSF_EDGES_DEG = (0.05, 0.12, 0.3)
#: EDISP types: lower edges of the contained shower fraction for EDISP3, EDISP2, EDISP1
EDISP_EDGES = (0.8, 0.65, 0.5)
#: multiple scattering constant (MeV) of the Highland formula
HIGHLAND_MEV = 13.6

# tracker (multiple-scattering) energy estimate [ours], for events without calorimeter energy
#: the tracker estimate replaces ENERGY when the raw calorimeter sum is below this (MeV)
TKR_ENERGY_BELOW_CAL_MEV = MIN_CAL_ENERGY_MEV
#: photon energy / lepton momentum measured from the kinks (calibrated on simulated 1 GeV photons)
TKR_ENERGY_SCALE = 1.65
#: kinks (hit triplets, both views) needed for an estimate
TKR_ENERGY_MIN_KINKS = 2
#: estimates are capped here (MeV): kinks at the single-hit resolution do not bound the energy
TKR_ENERGY_MAX_MEV = 10000.0
