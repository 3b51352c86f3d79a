"""The LAT instrument model shared by reconstruction (fermi-l1) and simulation (fermi-latsim).

Geometry and material from the published description of the LAT (Atwood et al. 2009, ApJ 697,
1071, sections 2-3); where the paper gives no figure we chose a plausible one and mark it
**[ours]** (changing an [ours] value changes simulated data, so do it with a format version).

Coordinate frame (the LAT "instrument frame")
    +Z is the boresight (pointing out of the tracker top), +X points to the sun-facing side of the
    spacecraft, +Y completes a right-handed frame. The origin is the centre of the 4x4 tower
    array in X, Y and the top of the calorimeter support grid in Z (tracker at z > 0,
    calorimeter at z < 0). All lengths are millimetres (``_MM``), energies MeV (``_MEV``),
    material thickness radiation lengths (``_X0``).

Towers
    16 towers, ``tower = 4 * iy + ix`` with ``ix, iy`` in 0..3 increasing along +X, +Y.

Tracker
    18 x-y planes per tower, ``plane`` 0 is the **top** (as in the telemetry, section 4.6).
    Each plane has a tungsten converter foil just above two silicon layers: view 0 ("X") has strips
    parallel to Y and measures x, view 1 ("Y") measures y. Planes 0-11 carry thin foils
    (FRONT, 2.7 % X0 each), planes 12-15 thick foils (BACK, 18 % X0), planes 16-17 none.
    A layer is 4 ladders (wafers) of 384 strips at 228 um pitch: strips 0-1535 per tower and view,
    strip 0 at the low-coordinate edge.

Calorimeter
    8 layers x 12 CsI(Tl) logs per tower (26.7 x 19.9 x 326 mm), 8.6 X0 on axis. Layer 0 is the
    top. Even layers have logs along X (the column measures y), odd layers logs along Y (the
    column measures x). A log is read at both ends: the "positive" face is the end at larger
    coordinate along the log. A deposit at longitudinal offset ``s`` (mm, from the log centre,
    positive towards the positive face) gives face signals ``E exp(+s/L)`` and ``E exp(-s/L)``
    with ``L = CAL_ASYMMETRY_LENGTH_MM`` [ours], so ``E = sqrt(Epos Eneg)`` and
    ``s = L/2 ln(Epos/Eneg)``.

ACD
    89 plastic scintillator tiles: 25 on top (5 x 5) and 16 per side (3 rows of 5 + one long
    bottom tile) plus 8 ribbons (ids 500-507, not modelled geometrically). Tile id
    ``face * 100 + row * 10 + column``; face 0 top, 1 -X, 2 -Y, 3 +X, 4 +Y. Top: row along +Y,
    column along +X. Sides: row 0 is the top row, column along the horizontal axis of the face
    (+Y for faces 1 and 3, +X for faces 2 and 4); the long bottom tile is row 3, column 0.
"""

from __future__ import annotations

import math

import numpy as np

# --------------------------------------------------------------------------------------------
# towers
# --------------------------------------------------------------------------------------------
N_TOWERS_X = 4
N_TOWERS_Y = 4
N_TOWERS = N_TOWERS_X * N_TOWERS_Y
#: centre-to-centre distance of neighbouring towers (Atwood et al. 2009: 37.45 cm)
TOWER_PITCH_MM = 374.5
#: half width of the tower array
ARRAY_HALF_WIDTH_MM = 0.5 * N_TOWERS_X * TOWER_PITCH_MM

# --------------------------------------------------------------------------------------------
# tracker
# --------------------------------------------------------------------------------------------
N_TKR_PLANES = 18
N_VIEWS = 2  # 0 = X (measures x), 1 = Y (measures y)
STRIP_PITCH_MM = 0.228
STRIPS_PER_WAFER = 384
N_WAFERS = 4
N_STRIPS = STRIPS_PER_WAFER * N_WAFERS  # 1536 per tower, plane and view
#: ladder (wafer) pitch across a tray: 89.5 mm wafers with 0.2 mm gaps [ours: gap]
WAFER_PITCH_MM = 89.7
#: distance between successive planes [ours, fits the ~60 cm tracker height]
TKR_PLANE_PITCH_MM = 33.5
#: z of the middle of the bottom plane (plane 17) [ours]
TKR_BOTTOM_PLANE_Z_MM = 44.0
#: separation of the X and Y silicon layers of one plane; X is the upper one [ours]
TKR_VIEW_GAP_MM = 2.0
THIN_FOIL_X0 = 0.027
THICK_FOIL_X0 = 0.18
#: silicon + tray structure of one plane, normal incidence [ours: 2 x 0.43 % Si + support]
TKR_TRAY_X0 = 0.025
#: first plane of the BACK section; planes < FIRST_BACK_PLANE are FRONT
FIRST_BACK_PLANE = 12

#: z (mm) of the middle of each plane, shape (18,), plane 0 = top
TKR_PLANE_Z_MM = TKR_BOTTOM_PLANE_Z_MM + (N_TKR_PLANES - 1 - np.arange(N_TKR_PLANES)) * TKR_PLANE_PITCH_MM
#: z (mm) of each silicon layer, shape (18, 2): [plane, view]
TKR_LAYER_Z_MM = np.stack(
    [TKR_PLANE_Z_MM + 0.5 * TKR_VIEW_GAP_MM, TKR_PLANE_Z_MM - 0.5 * TKR_VIEW_GAP_MM], axis=1
)
#: converter foil of each plane (X0), shape (18,)
FOIL_X0 = np.array([THIN_FOIL_X0] * 12 + [THICK_FOIL_X0] * 4 + [0.0] * 2)
#: z (mm) of the converter foil of each plane (just above its X layer) [ours]
FOIL_Z_MM = TKR_LAYER_Z_MM[:, 0] + 1.5
#: material (X0, normal incidence) between a conversion in plane p's foil and the calorimeter:
#: the trays of planes p..17 and the foils of planes p+1..17, shape (18,)
TKR_X0_BELOW = np.array(
    [FOIL_X0[p + 1 :].sum() + (N_TKR_PLANES - p) * TKR_TRAY_X0 for p in range(N_TKR_PLANES)]
)

# --------------------------------------------------------------------------------------------
# calorimeter
# --------------------------------------------------------------------------------------------
N_CAL_LAYERS = 8
N_CAL_COLUMNS = 12
CAL_LOG_LENGTH_MM = 326.0
CAL_LOG_WIDTH_MM = 26.7
CAL_LOG_HEIGHT_MM = 19.9
#: centre-to-centre distance of logs within a layer [ours]
CAL_COLUMN_PITCH_MM = 27.84
#: centre-to-centre distance of layers [ours]
CAL_LAYER_PITCH_MM = 21.35
#: z of the top face of the calorimeter (below the tracker grid) [ours]
CAL_TOP_Z_MM = -48.0
CSI_X0_MM = 18.6
#: critical energy of CsI (PDG)
CSI_CRITICAL_ENERGY_MEV = 11.17
CAL_LAYER_X0 = CAL_LOG_HEIGHT_MM / CSI_X0_MM
CAL_X0 = N_CAL_LAYERS * CAL_LAYER_X0  # about 8.6 X0
#: z (mm) of each layer centre, shape (8,), layer 0 = top
CAL_LAYER_Z_MM = CAL_TOP_Z_MM - CAL_LAYER_PITCH_MM * (np.arange(N_CAL_LAYERS) + 0.5)
#: light asymmetry length of a log [ours]
CAL_ASYMMETRY_LENGTH_MM = 326.0
#: energy per ADC count of each readout range (LEX8, LEX1, HEX8, HEX1): full scales of about
#: 100 MeV, 800 MeV, 7 GeV and 70 GeV as on the LAT; pedestal-subtracted [ours: exact values]
CAL_MEV_PER_ADC = np.array([100.0, 800.0, 7000.0, 70000.0]) / 4000.0
CAL_ADC_MAX = 4095
#: a range is used while its ADC value stays below this (then the next range is read)
CAL_RANGE_SWITCH_ADC = 4000
#: zero suppression: logs whose deposit is below this are not read out [ours]
CAL_LOG_THRESHOLD_MEV = 2.0

# --------------------------------------------------------------------------------------------
# ACD
# --------------------------------------------------------------------------------------------
ACD_TOP_Z_MM = 760.0
ACD_HALF_WIDTH_MM = 840.0
ACD_TOP_TILES_PER_SIDE = 5
ACD_TILE_PITCH_MM = 2.0 * ACD_HALF_WIDTH_MM / ACD_TOP_TILES_PER_SIDE
#: z ranges (low, high) of the side rows; row 3 is a single long tile [ours]
ACD_SIDE_ROW_Z_MM = np.array([[560.0, 760.0], [360.0, 560.0], [160.0, 360.0], [-10.0, 160.0]])
ACD_RIBBON_IDS = np.arange(500, 508)
#: ACD pulse height per MeV deposited (12-bit PHA, ~20 MeV full scale) [ours]
ACD_PHA_PER_MEV = 200.0
#: the high range of an ACD PMT reads this many times more energy per PHA count [ours]
ACD_HIGH_RANGE_FACTOR = 25.0
#: most probable energy of a minimum ionising particle crossing a 10 mm tile
ACD_MIP_MEV = 1.9


def _acd_tile_ids() -> np.ndarray:
    ids = [r * 10 + c for r in range(5) for c in range(5)]
    for face in (1, 2, 3, 4):
        ids += [face * 100 + r * 10 + c for r in range(3) for c in range(5)]
        ids.append(face * 100 + 30)
    return np.array(sorted(ids), dtype=np.int16)


#: the 89 tile ids, sorted
ACD_TILE_IDS = _acd_tile_ids()


# --------------------------------------------------------------------------------------------
# towers
# --------------------------------------------------------------------------------------------
def tower_center_mm(tower: np.ndarray | int) -> tuple[np.ndarray, np.ndarray]:
    """Return the (x, y) centre in mm of each tower id."""
    tower = np.asarray(tower)
    ix = tower % N_TOWERS_X
    iy = tower // N_TOWERS_X
    return (ix - 1.5) * TOWER_PITCH_MM, (iy - 1.5) * TOWER_PITCH_MM


def tower_of(x_mm: np.ndarray, y_mm: np.ndarray) -> np.ndarray:
    """Return the tower id (int16) whose pitch cell contains (x, y), -1 outside the array."""
    x_mm = np.asarray(x_mm, dtype=np.float64)
    y_mm = np.asarray(y_mm, dtype=np.float64)
    ix = np.floor(x_mm / TOWER_PITCH_MM + 2.0)
    iy = np.floor(y_mm / TOWER_PITCH_MM + 2.0)
    inside = (ix >= 0) & (ix < N_TOWERS_X) & (iy >= 0) & (iy < N_TOWERS_Y)
    return np.where(inside, iy * N_TOWERS_X + ix, -1).astype(np.int16)


# --------------------------------------------------------------------------------------------
# tracker
# --------------------------------------------------------------------------------------------
def strip_position_mm(tower: np.ndarray, view: np.ndarray, strip: np.ndarray) -> np.ndarray:
    """Return the global coordinate (mm) measured by a strip: x for view 0, y for view 1.

    Parameters
    ----------
    tower, view, strip
        Integer arrays (broadcast together): tower 0-15, view 0/1, strip 0-1535.
    """
    tower = np.asarray(tower)
    view = np.asarray(view)
    strip = np.asarray(strip, dtype=np.float64)
    cx, cy = tower_center_mm(tower)
    centre = np.where(view == 0, cx, cy)
    wafer = np.floor(strip / STRIPS_PER_WAFER)
    in_wafer = strip - wafer * STRIPS_PER_WAFER
    return (
        centre + (wafer - 1.5) * WAFER_PITCH_MM + (in_wafer - (STRIPS_PER_WAFER - 1) / 2.0) * STRIP_PITCH_MM
    )


def locate_strip(x_mm: np.ndarray, y_mm: np.ndarray, view: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return (tower, strip) hit by a particle crossing a silicon layer of ``view`` at (x, y).

    Both are int16 arrays; -1 where the point is outside the silicon (gaps between wafers or
    towers, outside the array). The strip is the one measuring x (view 0) or y (view 1).
    """
    x_mm = np.asarray(x_mm, dtype=np.float64)
    y_mm = np.asarray(y_mm, dtype=np.float64)
    view = np.asarray(view)
    tower = tower_of(x_mm, y_mm)
    cx, cy = tower_center_mm(np.maximum(tower, 0))
    # the perpendicular coordinate must also be on silicon (edge gaps of the other ladders)
    u = np.where(view == 0, x_mm - cx, y_mm - cy)
    v = np.where(view == 0, y_mm - cy, x_mm - cx)
    strip_u = _local_strip(u)
    strip_v = _local_strip(v)
    ok = (tower >= 0) & (strip_u >= 0) & (strip_v >= 0)
    return np.where(ok, tower, -1).astype(np.int16), np.where(ok, strip_u, -1).astype(np.int16)


def _local_strip(u: np.ndarray) -> np.ndarray:
    wafer = np.floor(u / WAFER_PITCH_MM + 2.0)
    offset = u - (wafer - 1.5) * WAFER_PITCH_MM
    in_wafer = np.floor(offset / STRIP_PITCH_MM + STRIPS_PER_WAFER / 2.0)
    ok = (wafer >= 0) & (wafer < N_WAFERS) & (in_wafer >= 0) & (in_wafer < STRIPS_PER_WAFER)
    return np.where(ok, wafer * STRIPS_PER_WAFER + in_wafer, -1).astype(np.int64)


def conversion_type(first_plane: np.ndarray) -> np.ndarray:
    """Return CONVERSION_TYPE (int16): 0 FRONT for first hit plane 0-11, 1 BACK for 12-17.

    Same rule as fitsGen (FRONT iff Tkr1FirstLayer > 5.5 with Gleam's bottom-up numbering).
    Negative planes (no track) give -1.
    """
    first_plane = np.asarray(first_plane)
    return np.where(first_plane < 0, -1, (first_plane >= FIRST_BACK_PLANE).astype(np.int16)).astype(np.int16)


# --------------------------------------------------------------------------------------------
# calorimeter
# --------------------------------------------------------------------------------------------
def cal_log_center_mm(
    tower: np.ndarray, layer: np.ndarray, column: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return the (x, y, z) centre in mm of each log (tower, layer 0-7, column 0-11)."""
    tower = np.asarray(tower)
    layer = np.asarray(layer)
    column = np.asarray(column, dtype=np.float64)
    cx, cy = tower_center_mm(tower)
    off = (column - (N_CAL_COLUMNS - 1) / 2.0) * CAL_COLUMN_PITCH_MM
    along_x = layer % 2 == 0
    x = np.where(along_x, cx, cx + off)
    y = np.where(along_x, cy + off, cy)
    return x, y, CAL_LAYER_Z_MM[layer]


def locate_log(
    x_mm: np.ndarray, y_mm: np.ndarray, z_mm: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Return (tower, layer, column, longitudinal offset mm) of the log containing each point.

    tower/layer/column are int16, -1 where the point is in no CsI (gaps, outside). The offset is
    measured from the log centre towards its positive face (+X for even layers, +Y for odd).
    """
    x_mm = np.asarray(x_mm, dtype=np.float64)
    y_mm = np.asarray(y_mm, dtype=np.float64)
    z_mm = np.asarray(z_mm, dtype=np.float64)
    tower = tower_of(x_mm, y_mm)
    cx, cy = tower_center_mm(np.maximum(tower, 0))
    depth = CAL_TOP_Z_MM - z_mm
    layer = np.floor(depth / CAL_LAYER_PITCH_MM).astype(np.int64)
    in_layer = depth - (layer + 0.5) * CAL_LAYER_PITCH_MM
    along_x = layer % 2 == 0
    across = np.where(along_x, y_mm - cy, x_mm - cx)
    along = np.where(along_x, x_mm - cx, y_mm - cy)
    column = np.floor(across / CAL_COLUMN_PITCH_MM + N_CAL_COLUMNS / 2.0).astype(np.int64)
    in_column = across - (column - (N_CAL_COLUMNS - 1) / 2.0) * CAL_COLUMN_PITCH_MM
    ok = (
        (tower >= 0)
        & (layer >= 0)
        & (layer < N_CAL_LAYERS)
        & (np.abs(in_layer) <= CAL_LOG_HEIGHT_MM / 2.0)
        & (column >= 0)
        & (column < N_CAL_COLUMNS)
        & (np.abs(in_column) <= CAL_LOG_WIDTH_MM / 2.0)
        & (np.abs(along) <= CAL_LOG_LENGTH_MM / 2.0)
    )
    bad = np.int16(-1)
    return (
        np.where(ok, tower, bad).astype(np.int16),
        np.where(ok, layer, bad).astype(np.int16),
        np.where(ok, column, bad).astype(np.int16),
        np.where(ok, along, np.nan),
    )


def nearest_log(
    x_mm: np.ndarray, y_mm: np.ndarray, z_mm: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Like :func:`locate_log`, but points in the gaps of a tower's layer go to the nearest log.

    Only points outside the tower array or above/below the calorimeter give -1. Useful for
    depositing shower energy, whose lateral spread reaches the logs next to a gap.
    """
    x_mm = np.asarray(x_mm, dtype=np.float64)
    y_mm = np.asarray(y_mm, dtype=np.float64)
    z_mm = np.asarray(z_mm, dtype=np.float64)
    tower = tower_of(x_mm, y_mm)
    cx, cy = tower_center_mm(np.maximum(tower, 0))
    layer = np.floor((CAL_TOP_Z_MM - z_mm) / CAL_LAYER_PITCH_MM).astype(np.int64)
    along_x = layer % 2 == 0
    across = np.where(along_x, y_mm - cy, x_mm - cx)
    along = np.where(along_x, x_mm - cx, y_mm - cy)
    column = np.clip(np.floor(across / CAL_COLUMN_PITCH_MM + N_CAL_COLUMNS / 2.0), 0, N_CAL_COLUMNS - 1)
    along = np.clip(along, -CAL_LOG_LENGTH_MM / 2.0, CAL_LOG_LENGTH_MM / 2.0)
    ok = (tower >= 0) & (layer >= 0) & (layer < N_CAL_LAYERS)
    bad = np.int16(-1)
    return (
        np.where(ok, tower, bad).astype(np.int16),
        np.where(ok, layer, bad).astype(np.int16),
        np.where(ok, column, bad).astype(np.int16),
        np.where(ok, along, np.nan),
    )


def cal_face_energies(energy_mev: np.ndarray, offset_mm: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return the (positive, negative) face signals in MeV of a deposit at ``offset_mm``."""
    energy_mev = np.asarray(energy_mev, dtype=np.float64)
    a = np.asarray(offset_mm, dtype=np.float64) / CAL_ASYMMETRY_LENGTH_MM
    return energy_mev * np.exp(a), energy_mev * np.exp(-a)


def cal_energy_to_adc(face_mev: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return (range 0-3 uint8, ADC 0-4095 uint16) reading a face signal in MeV.

    The lowest range whose value stays below ``CAL_RANGE_SWITCH_ADC`` is used; the highest
    range saturates at 4095.
    """
    face_mev = np.maximum(np.asarray(face_mev, dtype=np.float64), 0.0)
    counts = face_mev[..., None] / CAL_MEV_PER_ADC
    rng = np.minimum(np.sum(counts >= CAL_RANGE_SWITCH_ADC - 0.5, axis=-1), 3)
    adc = np.take_along_axis(counts, rng[..., None], axis=-1)[..., 0]
    return rng.astype(np.uint8), np.minimum(np.rint(adc), CAL_ADC_MAX).astype(np.uint16)


def cal_adc_to_energy(rng: np.ndarray, adc: np.ndarray) -> np.ndarray:
    """Return the face signal in MeV (float64) of an ADC value read in range ``rng`` (0-3)."""
    return CAL_MEV_PER_ADC[np.asarray(rng, dtype=np.int64)] * np.asarray(adc, dtype=np.float64)


def cal_log_energy(e_pos_mev: np.ndarray, e_neg_mev: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return (energy MeV, longitudinal offset mm) of a log from its two face signals.

    The energy is the geometric mean (independent of the position); where one face is zero the
    other is used and the offset is NaN.
    """
    p = np.asarray(e_pos_mev, dtype=np.float64)
    n = np.asarray(e_neg_mev, dtype=np.float64)
    both = (p > 0) & (n > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        energy = np.where(both, np.sqrt(p * n), np.maximum(p, n))
        offset = np.where(both, 0.5 * CAL_ASYMMETRY_LENGTH_MM * np.log(p / n), np.nan)
    return energy, offset


# --------------------------------------------------------------------------------------------
# electromagnetic shower (used for the leakage correction and by the simulator)
# --------------------------------------------------------------------------------------------
#: longitudinal profile slope parameter b of dE/dt ~ t^(a-1) exp(-b t) (PDG, Longo 1975)
SHOWER_B = 0.5


def shower_a(energy_mev: np.ndarray) -> np.ndarray:
    """Return the profile shape parameter ``a`` of a photon shower in CsI.

    From ``t_max = (a - 1) / b = ln(E / Ec) + 0.5`` (PDG, photon-induced showers), floored at
    ``a = 1.05`` at low energy.
    """
    e = np.maximum(np.asarray(energy_mev, dtype=np.float64), 1e-3)
    return np.maximum(SHOWER_B * (np.log(e / CSI_CRITICAL_ENERGY_MEV) + 0.5) + 1.0, 1.05)


def regularized_gamma_p(a: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Return the regularized lower incomplete gamma function P(a, x) (vectorised, float64).

    Series for ``x < a + 1``, Lentz continued fraction otherwise; relative accuracy ~1e-12.
    """
    a, x = np.broadcast_arrays(np.asarray(a, dtype=np.float64), np.asarray(x, dtype=np.float64))
    lg = np.vectorize(math.lgamma, otypes=[np.float64])(a) if a.size else a.copy()
    xs = np.maximum(x, 1e-300)
    use_series = x < a + 1.0
    # series (evaluated with x clamped where the continued fraction is used, to avoid overflow)
    xser = np.where(use_series, xs, 1.0)
    term = 1.0 / a
    total = term.copy()
    for n in range(1, 300):
        term = term * xser / (a + n)
        total = total + term
    series = total * np.exp(-xser + a * np.log(xser) - lg)
    # continued fraction for Q
    xcf = np.where(use_series, a + 1.0, xs)
    tiny = 1e-300
    b = xcf + 1.0 - a
    c = np.full_like(xs, 1.0 / tiny)
    d = 1.0 / b
    h = d.copy()
    for i in range(1, 300):
        an = -i * (i - a)
        b = b + 2.0
        d = an * d + b
        d = np.where(np.abs(d) < tiny, tiny, d)
        c = b + an / c
        c = np.where(np.abs(c) < tiny, tiny, c)
        d = 1.0 / d
        h = h * d * c
    q = np.exp(-xcf + a * np.log(xcf) - lg) * h
    out = np.where(use_series, series, 1.0 - q)
    return np.where(x <= 0.0, 0.0, np.clip(out, 0.0, 1.0))


def shower_fraction(energy_mev: np.ndarray, t0_x0: np.ndarray, t1_x0: np.ndarray) -> np.ndarray:
    """Return the mean fraction of a photon shower's energy deposited between depths t0 and t1.

    Depths are radiation lengths along the shower axis from the conversion point (gamma-function
    longitudinal profile, :func:`shower_a` and :data:`SHOWER_B`).
    """
    a = shower_a(energy_mev)
    return regularized_gamma_p(a, SHOWER_B * np.asarray(t1_x0)) - regularized_gamma_p(
        a, SHOWER_B * np.asarray(t0_x0)
    )


# --------------------------------------------------------------------------------------------
# ACD
# --------------------------------------------------------------------------------------------
def acd_tile_bounds_mm(tile: int) -> tuple[int, np.ndarray]:
    """Return (face, bounds) of a tile: bounds is (3, 2) [axis x/y/z, low/high] in mm.

    The tile is idealised as a rectangle on its face plane (thickness ignored).

    Raises
    ------
    ValueError
        If ``tile`` is not one of :data:`ACD_TILE_IDS`.
    """
    if tile not in set(ACD_TILE_IDS.tolist()):
        raise ValueError(f"ACD tile id {tile}: not a tile (ids are face*100 + row*10 + column)")
    face, row, col = tile // 100, (tile // 10) % 10, tile % 10
    h, p = ACD_HALF_WIDTH_MM, ACD_TILE_PITCH_MM
    b = np.zeros((3, 2))
    if face == 0:
        b[0] = (-h + col * p, -h + (col + 1) * p)
        b[1] = (-h + row * p, -h + (row + 1) * p)
        b[2] = (ACD_TOP_Z_MM, ACD_TOP_Z_MM)
        return face, b
    horiz = (-h, h) if row == 3 else (-h + col * p, -h + (col + 1) * p)
    fixed = -h if face in (1, 2) else h
    if face in (1, 3):
        b[0] = (fixed, fixed)
        b[1] = horiz
    else:
        b[0] = horiz
        b[1] = (fixed, fixed)
    b[2] = ACD_SIDE_ROW_Z_MM[row]
    return face, b


def acd_pha_to_mev(pha: np.ndarray, high_range: np.ndarray) -> np.ndarray:
    """Return the energy (MeV, float64) of a PMT pulse height read in low or high range."""
    scale = np.where(np.asarray(high_range, dtype=bool), ACD_HIGH_RANGE_FACTOR, 1.0) / ACD_PHA_PER_MEV
    return np.asarray(pha, dtype=np.float64) * scale


def acd_mev_to_pha(energy_mev: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return (PHA uint16, high range bool) reading a deposit; the high range above 4000 counts."""
    e = np.maximum(np.asarray(energy_mev, dtype=np.float64), 0.0)
    low = e * ACD_PHA_PER_MEV
    high = low >= 4000.0
    pha = np.where(high, low / ACD_HIGH_RANGE_FACTOR, low)
    return np.minimum(np.rint(pha), 4095).astype(np.uint16), high


def acd_tile_at(x_mm: np.ndarray, y_mm: np.ndarray, z_mm: np.ndarray) -> np.ndarray:
    """Return the tile id (int16) at points on the ACD surface, -1 elsewhere.

    A point belongs to the top if ``z >= ACD_TOP_Z_MM`` - 1 mm, otherwise to the side whose plane
    it is on (within 1 mm).
    """
    x = np.asarray(x_mm, dtype=np.float64)
    y = np.asarray(y_mm, dtype=np.float64)
    z = np.asarray(z_mm, dtype=np.float64)
    h, p = ACD_HALF_WIDTH_MM, ACD_TILE_PITCH_MM
    out = np.full(np.broadcast(x, y, z).shape, -1, dtype=np.int16)
    x, y, z = np.broadcast_arrays(x, y, z)
    col_x = np.floor((x + h) / p)
    col_y = np.floor((y + h) / p)
    top = (np.abs(z - ACD_TOP_Z_MM) <= 1.0) & (np.abs(x) <= h) & (np.abs(y) <= h)
    out[top] = (np.clip(col_y, 0, 4) * 10 + np.clip(col_x, 0, 4))[top]
    row = np.full(z.shape, -1)
    for r, (lo, hi) in enumerate(ACD_SIDE_ROW_Z_MM):
        row = np.where((z >= lo) & (z < hi) & (row < 0), r, row)
    for face, on, col in (
        (1, np.abs(x + h) <= 1.0, col_y),
        (3, np.abs(x - h) <= 1.0, col_y),
        (2, np.abs(y + h) <= 1.0, col_x),
        (4, np.abs(y - h) <= 1.0, col_x),
    ):
        other = np.abs(y) if face in (1, 3) else np.abs(x)
        sel = on & (row >= 0) & (other <= h) & ~top & (out < 0)
        ids = face * 100 + row * 10 + np.where(row == 3, 0, np.clip(col, 0, 4))
        out[sel] = ids[sel]
    return out


def acd_ray_intersection(origin_mm: np.ndarray, direction: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return (tile id int16, point (n, 3) mm) where rays leave the ACD box.

    Parameters
    ----------
    origin_mm
        (n, 3) points inside the ACD box (e.g. the track vertex).
    direction
        (n, 3) directions of the rays (need not be normalised), e.g. the direction the photon came
        from. Rays leaving through the bottom (below the side tiles) give tile -1.
    """
    o = np.atleast_2d(np.asarray(origin_mm, dtype=np.float64))
    d = np.atleast_2d(np.asarray(direction, dtype=np.float64))
    h = ACD_HALF_WIDTH_MM
    bounds = np.array([[-h, h], [-h, h], [ACD_SIDE_ROW_Z_MM[3, 0], ACD_TOP_Z_MM]])
    with np.errstate(divide="ignore", invalid="ignore"):
        t_hi = np.where(d > 0, (bounds[:, 1] - o) / d, np.where(d < 0, (bounds[:, 0] - o) / d, np.inf))
    t = np.min(t_hi, axis=1)
    point = o + t[:, None] * d
    # snap the exit coordinate exactly onto its face
    axis = np.argmin(t_hi, axis=1)
    for k in range(3):
        sel = axis == k
        point[sel, k] = np.where(d[sel, k] > 0, bounds[k, 1], bounds[k, 0])
    tile = acd_tile_at(point[:, 0], point[:, 1], point[:, 2])
    tile = np.where((axis == 2) & (d[:, 2] < 0), -1, tile).astype(np.int16)
    return tile, point
