"""Procedural head anatomy and tumours for the synthetic MRI engine (:mod:`course_lib.synthetic`).

A patient's head is an implicit 3D object: :func:`sample_anatomy` draws its shape (skull, cortex
with gyral folds, ventricles, midline, sella; below them the face and neck with the jaw, the
airway, the sinuses and the cervical spine), :func:`sample_tumor` places a class's tumour in it,
and :func:`head_layers` evaluates the tissue maps only at the slices that are asked for, on a
:class:`PixelGrid`. Coordinates are in head units (about -1 to 1), slices are coronal (``z`` runs
front to back). :func:`course_lib.synthetic.render_contrast` turns the layers into an image.
"""

from __future__ import annotations

import functools
import math

import numpy as np
from scipy import ndimage

from course_lib.config import CLASS_NAMES

#: Values of a tumour mask, as in the BraTS 2023 challenge: 1 the necrotic or non-enhancing
#: tumour core, 2 the peritumoural edema, 3 the enhancing tumour. The tumour core (what a
#: surgeon resects) is labels 1 and 3; the whole tumour adds the edema. Meningiomas and
#: pituitary adenomas enhance throughout, so their bodies are 3.
TUMOR_LABELS: dict[str, int] = {"background": 0, "core": 1, "edema": 2, "enhancing": 3}


def tumor_core(mask: np.ndarray) -> np.ndarray:
    """The tumour core of a mask with :data:`TUMOR_LABELS` values: labels 1 and 3, no edema.

    >>> tumor_core(np.array([0, 1, 2, 3])).tolist()
    [False, True, False, True]
    """
    mask = np.asarray(mask)
    return (mask == TUMOR_LABELS["core"]) | (mask == TUMOR_LABELS["enhancing"])


def _ramp(signed: np.ndarray, width: float) -> np.ndarray:
    """Soft inside-indicator: 1 where ``signed`` < -width/2, 0 where > width/2, linear between."""
    out = np.multiply(signed, -1.0 / width, dtype=np.float32)
    out += np.float32(0.5)
    np.maximum(out, np.float32(0.0), out=out)
    return np.minimum(out, np.float32(1.0), out=out)


def _cos_basis(coords: np.ndarray, n: int, max_freq: float, rng: np.random.Generator):
    """``(n, len(coords))`` random cosines with frequencies up to ``max_freq`` cycles per unit."""
    freqs = rng.uniform(0.0, max_freq, size=(n, 1)) * (2 * math.pi)
    phases = rng.uniform(0.0, 2 * math.pi, size=(n, 1))
    return np.cos(freqs * coords[None, :] + phases).astype(np.float32)


def smooth_field(
    rng: np.random.Generator,
    ys: np.ndarray,
    xs: np.ndarray,
    zs: np.ndarray,
    *,
    max_freq: float,
    n: int = 5,
) -> np.ndarray:
    """A smooth random 3D field sampled on the grid ``zs x ys x xs``, about unit std.

    A sum of separable random cosines, so a slice costs two small matrix products.

    Returns:
        ``(len(zs), len(ys), len(xs))`` float32.
    """
    by = _cos_basis(ys, n, max_freq, rng)
    bx = _cos_basis(xs, n, max_freq, rng)
    bz = _cos_basis(zs, 3, max_freq / 2, rng)
    coef = rng.standard_normal((n, n, 3)).astype(np.float32)
    per_slice = np.einsum("abk,ks->sab", coef, bz)
    field = by.T[None] @ per_slice @ bx
    return field * np.float32(1.0 / math.sqrt(n * n * 3 / 8))


def _unit_vectors(rng: np.random.Generator, n: int) -> np.ndarray:
    v = rng.standard_normal((n, 3))
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def sample_anatomy(rng: np.random.Generator) -> dict:
    """Draw the parameters of one patient's head (shape, cortex, ventricles, pose, fields).

    Args:
        rng: The patient's random generator.

    Returns:
        A dict of floats (and a ``"field_seed"`` int) that :func:`head_layers` reads.
    """
    anat = {
        "ax": rng.uniform(0.6, 0.7),  # brain half-width
        "ay": rng.uniform(0.56, 0.64),  # brain half-height above its centre
        "cy": rng.uniform(-0.08, -0.02),  # brain centre row
        "notch": rng.uniform(0.34, 0.42),  # sellar notch between the temporal lobes
        "temporal": rng.uniform(0.08, 0.15),
        "harm": rng.normal(0.0, 0.018, size=(3, 2, 2)),  # k=2..4, cos/sin, const/z
        # cortical folding: plane waves of about a gyrus' wavelength, in random directions
        "fold_k": _unit_vectors(rng, 8) * rng.uniform(26.0, 34.0, size=(8, 1)),
        "fold_phase": rng.uniform(0.0, 2 * math.pi, size=8),
        "sulcal_depth": rng.uniform(0.1, 0.16),
        "gm_thick": rng.uniform(0.035, 0.05),
        "csf_thick": rng.uniform(0.012, 0.03),
        "bone_thick": rng.uniform(0.03, 0.05),
        "scalp_thick": rng.uniform(0.07, 0.11),
        "marrow": rng.uniform(0.0, 0.8),
        "sylvian": rng.uniform(1.05, 1.2),
        "midline": rng.normal(0.0, 0.01),
        "vent_size": rng.uniform(0.75, 1.4),
        "vent_angle": rng.uniform(0.35, 0.75),
        "vent_z": rng.uniform(-0.12, 0.08),
        "gland_w": rng.uniform(0.045, 0.06),
        "gland_h": rng.uniform(0.022, 0.032),
        "sinus": rng.uniform(0.7, 1.2),  # size of the sphenoid sinus
        "pose": (rng.normal(0.0, 0.05), *rng.uniform(-0.04, 0.04, 2), rng.uniform(0.76, 0.9)),
        "field_seed": int(rng.integers(2**32)),
    }
    # Python floats and float32 arrays keep every image float32 (NumPy scalars would promote).
    return {
        key: value.astype(np.float32)
        if isinstance(value, np.ndarray)
        else tuple(float(v) for v in value)
        if isinstance(value, tuple)
        else value
        if isinstance(value, int)
        else float(value)
        for key, value in anat.items()
    }


def _harmonics(cos_t, sin_t, coef, z=0.0):
    """``1 + sum_k a_k(z) cos(k t) + b_k(z) sin(k t)`` for k = 2..4 from cos t and sin t."""
    c2, s2 = cos_t * cos_t - sin_t * sin_t, 2 * cos_t * sin_t
    c3, s3 = c2 * cos_t - s2 * sin_t, s2 * cos_t + c2 * sin_t
    c4, s4 = c2 * c2 - s2 * s2, 2 * c2 * s2
    const = 1.0 + sum(
        coef[i, 0, 0] * c + coef[i, 1, 0] * s
        for i, (c, s) in enumerate([(c2, s2), (c3, s3), (c4, s4)])
    )
    slope = sum(
        coef[i, 0, 1] * c + coef[i, 1, 1] * s
        for i, (c, s) in enumerate([(c2, s2), (c3, s3), (c4, s4)])
    )
    return const + np.asarray(z, dtype=np.float32) * slope


def _brain_radius_at(anat: dict, theta: float, z: float) -> float:
    """The brain's outer radius along one direction (radians from straight down) at depth z."""
    c, s = math.cos(theta), math.sin(theta)
    ax, ay = anat["ax"], anat["ay"]
    rell = ax * ay / math.hypot(ay * s, ax * c)
    shape = (
        1
        - anat["notch"] * math.exp(-((z / 0.42) ** 2)) * math.exp(-((theta / 0.38) ** 2))
        + anat["temporal"] * math.exp(-(((abs(theta) - 0.8) / 0.35) ** 2))
    )
    harm = float(_harmonics(np.float32(c), np.float32(s), anat["harm"], z))
    return rell * shape * harm * _z_extent(z)


#: The brain's half-length front to back (its half-width is about 0.65).
_HALF_LENGTH = 0.82


def _z_extent(z):
    return np.sqrt(np.clip(1.0 - (np.asarray(z) / _HALF_LENGTH) ** 2, 0.05, 1.0))


def _ellipse(x, y, cx, cy, rx, ry):
    """Approximate signed distance to an axis-aligned ellipse (negative inside)."""
    dx, dy = (x - cx) / rx, (y - cy) / ry
    return (np.sqrt(dx * dx + dy * dy) - 1.0) * np.minimum(rx, ry)


#: The anatomical planes a slice can be cut in (the convention of ``widgets.volume_slice``):
#: coronal images run top to bottom and left to right, axial ones front to back and left to
#: right, sagittal ones top to bottom and front to back.
PLANES: tuple[str, ...] = ("coronal", "axial", "sagittal")

#: For each plane, which anatomy axis (0 x, 1 y, 2 z) the image columns, the image rows and the
#: slice positions run along.
_PLANE_AXES = {"coronal": (0, 1, 2), "axial": (0, 2, 1), "sagittal": (2, 1, 0)}


class PixelGrid:
    """Anatomy coordinates of every pixel of an ``(H, W)`` image in one patient's pose.

    The image spans -1 to 1 along its rows (top to bottom) and ``-W/H`` to ``W/H`` along its
    columns; the pose ``(angle, shift_x, shift_y, scale)`` rotates, shifts and scales the head
    in that frame. ``x`` and ``y`` are ``(H, W)`` float32 in-plane anatomy coordinates (along
    the columns and the rows); :meth:`coords` adds the slice positions and names the axes.

    Args:
        height: Image rows.
        width: Image columns.
        pose: ``(angle in radians, shift_x, shift_y, scale)``, as in ``sample_anatomy()["pose"]``.
        plane: One of :data:`PLANES`; the slices are cut perpendicular to its normal.

    Raises:
        ValueError: If ``plane`` is not one of :data:`PLANES`.
    """

    def __init__(self, height: int, width: int, pose, plane: str = "coronal") -> None:
        if plane not in _PLANE_AXES:
            raise ValueError(f"plane must be one of {PLANES}, got {plane!r}")
        angle, tx, ty, scale = pose
        ys = np.linspace(-1.0, 1.0, height, dtype=np.float32)
        xs = np.linspace(-1.0, 1.0, width, dtype=np.float32) * np.float32(width / height)
        self.ys, self.xs = ys, xs
        c, s = math.cos(angle), math.sin(angle)
        self.rot = (c, s, tx, ty, scale)
        gx, gy = xs[None, :] - tx, ys[:, None] - ty
        self.x = ((c * gx + s * gy) / scale).astype(np.float32)
        self.y = ((-s * gx + c * gy) / scale).astype(np.float32)
        self.pixel = 2.0 / (height * scale)  # one pixel in anatomy units
        self.shape = (height, width)
        self.plane = plane
        self.axes = _PLANE_AXES[plane]

    def coords(self, positions: np.ndarray, box=None):
        """``(x, y, z)`` anatomy coordinates of the slices at ``positions`` (along the normal).

        Each is broadcastable to ``(S, H, W)`` (or ``(S, h, w)`` inside ``box``): the two
        in-plane ones are ``(H, W)``, the normal one ``(S, 1, 1)``.
        """
        u, v = (self.x, self.y) if box is None else (self.x[box], self.y[box])
        n = np.asarray(positions, dtype=np.float32).reshape(-1, 1, 1)
        out = [None, None, None]
        col, row, normal = self.axes
        out[col], out[row], out[normal] = u, v, n
        return tuple(out)

    def _in_plane(self, center, half):
        col, row, _ = self.axes
        return center[col], center[row], half[col], half[row]

    def box(self, cx: float, cy: float, half: float, half_y: float | None = None):
        """Row and column slices of the image covering an in-plane rectangle (anatomy units).

        ``(cx, cy)`` is the centre along the columns and the rows of the image's plane.
        """
        c, s, tx, ty, scale = self.rot
        half_y = half if half_y is None else half_y
        ix = (c * cx - s * cy) * scale + tx
        iy = (s * cx + c * cy) * scale + ty
        h, w = self.shape
        px = max(half, half_y) * abs(s) * scale * h / 2
        half_c = half * scale * h / 2 * 1.05 + px + 2
        half_r = half_y * scale * h / 2 * 1.05 + px + 2
        row = (iy + 1) * (h - 1) / 2
        col = (ix / (w / h) + 1) * (w - 1) / 2
        rows = slice(max(0, int(row - half_r)), max(0, min(h, int(row + half_r) + 2)))
        cols = slice(max(0, int(col - half_c)), max(0, min(w, int(col + half_c) + 2)))
        return rows, cols

    def box3(self, center, half):
        """:meth:`box` of a 3D box: ``center`` ``(x, y, z)`` and half sides ``(hx, hy, hz)``."""
        return self.box(*self._in_plane(center, half))

    def crop(self, positions, center, half):
        """``(box, x, y, z)``: :meth:`box3` and the anatomy coordinates inside it."""
        box = self.box3(center, half)
        return (box, *self.coords(positions, box))


def _fold(anat: dict, x, y, z) -> np.ndarray:
    """Cortical folding, about -1 (crown of a gyrus) to 1 (a sulcus), in 3D.

    The sulci are the zero set of a band-limited random field (a sum of plane waves of one
    wavelength in random directions): a labyrinth of about one gyral width, whichever plane cuts it.
    """
    k, phase = anat["fold_k"], anat["fold_phase"]
    field = np.zeros(np.broadcast_shapes(np.shape(x), np.shape(y), np.shape(z)), np.float32)
    for (kx, ky, kz), ph in zip(k, phase, strict=True):
        field += np.cos(x * kx + y * ky + z * kz + ph)
    field *= np.float32(1.0 / math.sqrt(len(phase) / 2))
    return 1.0 - 1.6 * np.abs(field)


def head_layers(anat: dict, zs: np.ndarray, grid: PixelGrid, tumor: dict | None = None):
    """Build the tissue layers of one patient's head at slice positions ``zs``.

    Args:
        anat: Parameters from :func:`sample_anatomy`.
        zs: ``(S,)`` slice positions along the normal of the grid's plane: coronal ``z`` (about
            -0.9 front to 0.9 back; 0 is the sella), axial ``y`` (-0.7 the crown to 1 the neck)
            or sagittal ``x`` (-0.7 one side to 0.7 the other).
        grid: The pixel grid in the patient's pose and the slices' plane.
        tumor: Parameters from :func:`sample_tumor`, or ``None``.

    Returns:
        ``(layers, brain_mask, tumor_mask, texture)``: ``layers`` a list of ``(tissue, alpha)``
        or ``(tissue, alpha, box)`` for :func:`render_contrast` (``(S, H, W)`` float32 alphas,
        or ``(S, h, w)`` inside ``box``); ``brain_mask`` ``(S, H, W)`` bool; ``tumor_mask``
        ``(S, H, W)`` uint8 with :data:`TUMOR_LABELS` values; ``texture`` ``(S, H, W)`` float32
        multiplicative tissue texture (about 1) to apply to the rendered image.
    """
    n = len(zs)
    height, width = grid.shape
    full = (n, height, width)
    x, y, z = grid.coords(zs)
    w = np.float32(grid.pixel)
    rng = np.random.default_rng(anat["field_seed"])
    fields = {
        name: smooth_field(rng, grid.ys, grid.xs, np.asarray(zs), max_freq=f, n=5)
        for name, f in (("warp", 1.6), ("texture", 3.0))
    }
    coarse = rng.standard_normal((24, 24)).astype(np.float32)
    box = max(3, height // 40)
    skull_base = _smooth_upsampling(height, box) @ coarse @ _smooth_upsampling(width, box).T
    skull_base *= np.float32(1.0 / (skull_base.std() + 1e-6))

    tumor = tumor or {}
    midline = anat["midline"] + tumor.get("midline_shift", 0.0)
    cy = anat["cy"]
    dy = y - cy
    r = np.sqrt(x * x + dy * dy) + np.float32(1e-6)
    cos_t, sin_t = dy / r, x / r
    theta = np.arctan2(x, dy)
    abs_t = np.abs(theta)
    ax, ay = anat["ax"], anat["ay"]
    rell = ax * ay / np.sqrt((ay * sin_t) ** 2 + (ax * cos_t) ** 2)
    # the sellar notch between the temporal lobes belongs to the middle cranial fossa only
    notch = anat["notch"] * np.exp(-((z / 0.42) ** 2))
    shape2d = (
        1
        - notch * np.exp(-((theta / 0.38) ** 2))
        + anat["temporal"] * np.exp(-(((abs_t - 0.8) / 0.35) ** 2))
    )
    harm = _harmonics(cos_t, sin_t, anat["harm"], z)
    radius = rell * shape2d * harm  # the brain's outline in the coronal plane through z = 0
    # distance outside the brain (negative inside), from its ellipsoidal "radius" in 3D
    d_brain = np.broadcast_to(
        (np.sqrt((r / radius) ** 2 + (z / _HALF_LENGTH) ** 2) - 1) * radius, full
    )
    csf_t, bone_t = anat["csf_thick"], anat["bone_thick"]

    # Head outline: follows the brain dome above; below, face, jaw and neck, from the face in
    # front to the back of the neck, tapering at the crown and the occiput.
    t_head = csf_t + bone_t + anat["scalp_thick"]
    zh = _HALF_LENGTH + t_head
    axh, ayh = ax + t_head, ay + t_head
    r_dome = axh * ayh / np.sqrt((ayh * sin_t) ** 2 + (axh * cos_t) ** 2)
    d_dome = (np.sqrt((r / r_dome) ** 2 + (z / zh) ** 2) - 1) * r_dome
    chin = np.clip((y - 0.85) / 0.3, 0.0, 1.0)
    front = np.clip((-z - 0.45) / 0.35, 0.0, 1.0)
    neck = np.clip((y - 0.5) / 0.35, 0.0, 1.0)
    back = np.clip((z - 0.1) / 0.4, 0.0, 1.0)  # the neck below the occiput is narrower
    face_x = (axh * (1.0 - 0.3 * front) * (1.0 - 0.25 * back)) * (1.0 - 0.3 * neck * (1 - front))
    # the face and neck: a rounded box across (x, z) (a superellipse of power 4), from the
    # face (or the throat, below the chin) in front to the back of the neck; the face starts
    # high, the neck low. In place, for speed: this runs on every pixel of every slice.
    face_z = -(zh - 0.04) + 0.65 * chin
    mid_z, half_z = (face_z + 0.62) / 2, (0.62 - face_z) / 2
    d_lower = x / face_x
    d_lower *= d_lower
    d_lower *= d_lower
    across = (z - mid_z) / half_z
    across *= across
    across *= across
    d_lower += across
    np.sqrt(d_lower, out=d_lower)
    np.sqrt(d_lower, out=d_lower)
    d_lower -= 1
    d_lower *= np.minimum(face_x, half_z)
    d_lower = np.maximum(d_lower, cy + 0.1 + 0.35 * np.clip((z + 0.2) / 0.6, 0.0, 1.0) - y)
    # a smooth union, so the forehead runs into the face without a step
    blend = np.clip(1 - np.abs(d_dome - d_lower) / 0.2, 0.0, None)
    d_head = np.broadcast_to(np.minimum(d_dome, d_lower) - 0.05 * blend * blend, full)
    head = _ramp(d_head, w)
    lower = np.clip((y - (cy + 0.25)) / 0.15, 0.0, 1.0) * (d_lower < 0.02)
    layers = [
        ("fat", head),
        ("muscle", _ramp(d_head + 0.035, w) * (1 - lower)),
    ]
    layers = [(t, np.broadcast_to(a, full)) for t, a in layers]
    layers += _face_and_neck(anat, grid, zs, d_head, lower * head, skull_base, w)
    # Skull with its marrow, then the CSF around the brain.
    layers.append(("bone", _ramp(d_brain - (csf_t + bone_t), w)))
    marrow = np.abs(d_brain - (csf_t + 0.5 * bone_t)) - 0.22 * bone_t
    layers.append(("fat", anat["marrow"] * _ramp(marrow, w) * (1 - lower)))
    # Sella: bone block, sphenoid sinus (air) and the suprasellar cistern.
    sella = _sella(anat, grid, zs, midline=anat["midline"], w=w)
    layers += sella["below"]
    intracranial = np.broadcast_to(_ramp(d_brain - csf_t, w), full)
    layers.append(("csf", intracranial))
    # Cortex: folded outer surface with sulci, the Sylvian fissure and the midline fissure.
    fold = _fold(anat, x + 0.04 * fields["warp"], y, z)
    sylvian = (
        np.exp(-(((abs_t - anat["sylvian"]) / 0.05) ** 2))
        * (abs_t > 0.6)
        * np.exp(-((z / 0.45) ** 4))
    )
    depth = anat["sulcal_depth"]
    depth = depth * (1 + 0.45 * fields["texture"])
    indent = depth * np.clip((fold - 0.6) * 4.0, 0.0, 1.0) + 0.22 * sylvian
    vent_y = cy - 0.12
    cc_top = vent_y - 0.09
    fbox, fx, fy, _ = grid.crop(
        zs, (midline, (cc_top - 1.0) / 2, 0.0), (0.07, (cc_top + 1.0) / 2 + 0.05, 1.2)
    )
    fbox3 = (slice(None), *fbox)
    fissure = _ramp(np.abs(fx - midline) - 0.012, w) * _ramp(fy - cc_top, w)
    gm = _ramp(d_brain + indent, w)
    gm = np.array(np.broadcast_to(gm, full))
    gm[fbox3] *= 1 - fissure
    layers.append(("gm", gm))
    wm_fissure = _ramp(np.abs(fx - midline) - 0.012 - anat["gm_thick"], w) * _ramp(
        fy - cc_top - anat["gm_thick"], w
    )
    wm_depth = (
        anat["gm_thick"]
        + depth * (0.5 + 0.5 * fold) ** 2
        + 0.3 * np.exp(-(((abs_t - anat["sylvian"]) / 0.12) ** 2)) * np.exp(-((z / 0.45) ** 4))
    )
    wm = np.array(np.broadcast_to(_ramp(d_brain + wm_depth, w), full))
    wm[fbox3] *= 1 - wm_fissure
    layers.append(("wm", wm))
    dura = _ramp(np.abs(fx - midline) - 0.003, w) * fissure * intracranial[fbox3]
    layers.append(("dura", dura, fbox))
    layers += _hindbrain(anat, grid, zs, midline, intracranial, w)
    layers += _deep_structures(anat, grid, zs, midline, vent_y, w, tumor)
    layers += sella["above"]

    tumor_mask = np.zeros(full, np.uint8)
    if tumor:
        tumor_layers, tumor_mask = _tumor_layers(tumor, grid, zs, d_brain, wm, intracranial, csf_t)
        layers += tumor_layers
    texture = 1 + np.float32(0.035) * fields["texture"]
    layers = [(t, a.astype(np.float32, copy=False), *b) for t, a, *b in layers]
    # The intracranial space holds every intracranial tumour, the sellar ones included: a
    # skull stripper scored against this mask must keep the whole tumour.
    brain_mask = (intracranial > 0.5) | (tumor_mask > 0)
    return layers, brain_mask, tumor_mask, texture


def _sella_floor(anat: dict) -> float:
    """Row of the sella's floor: below the brain's notch, its CSF and the diaphragm."""
    return anat["cy"] + anat["ay"] * (1 - anat["notch"]) + anat["csf_thick"] + 0.085


def _cord_depth(anat: dict, y):
    """Front-to-back position of the brainstem's and cord's axis, bending back as it descends."""
    return 0.2 + 0.08 * (y - (anat["cy"] + 0.12))


def _face_and_neck(anat, grid, zs, d_head, lower, texture, w):
    """Below the skull: muscle under a rim of fat, the jaw, the airway and sinuses, the spine.

    ``d_head`` is the ``(S, H, W)`` signed distance to the skin, ``lower`` (0 to 1) the part of
    the head below the skull base, ``texture`` an ``(H, W)`` smooth random map (about unit std)
    that lays planes of fat between the muscles. Each part is computed inside its own box, and
    only where the slices reach it.
    """
    if not lower.any():  # an axial slice above the skull base
        return []
    midline, cy = anat["midline"], anat["cy"]
    floor = _sella_floor(anat)
    n = len(zs)
    layers = []

    def part(center_yz, half):
        """``(box, x - midline, y, z, lower, d_head)`` in a box, or None off the slices."""
        center = (midline, *center_yz)
        normal = grid.axes[2]
        if np.all(np.abs(np.asarray(zs) - center[normal]) > half[normal]):
            return None
        box, x, y, z = grid.crop(zs, center, half)
        box3 = (slice(None), *box)
        return box, x - midline, y, z, lower[box3], d_head[box3]

    def add(tissue, alpha, box):
        layers.append((tissue, _stack(alpha, n), box))

    # muscle under a rim of fat, with planes of fat between the muscles
    box, _, _, _, low, dist = part(((cy + 2.2) / 2, 0.0), (2.0, (2.0 - cy) / 2, 2.0))
    add("muscle", low * _ramp(dist + 0.035, w) * np.clip(1 - 0.1 * texture[box], 0, 1), box)
    add("fat", low * np.clip(1 - np.abs(texture[box]) / 0.12, 0.0, 0.8), box)
    # the mandible: a bony shell inside the lower face, from the ramus to the chin
    got = part(((floor + 1.2) / 2, -0.45), (1.0, (1.0 - floor) / 2, 0.55))
    if got:
        box, mx, y, z, low, dist = got
        jaw = np.clip((y - floor - 0.2) / 0.06, 0, 1) * np.clip((0.98 - y) / 0.05, 0, 1)
        jaw = low * jaw * _ramp(z - 0.05, w)
        shell = np.abs(dist + 0.075)
        add("bone", jaw * _ramp(shell - 0.02, w), box)
        add("fat", jaw * _ramp(shell - 0.008, w), box)
    # the nasal cavity either side of the septum, striped by the turbinates
    got = part((floor + 0.12, -0.7), (0.11, 0.15, 0.33))
    if got:
        box, mx, y, z, low, _ = got
        nasal = np.where(np.abs(mx) > 0.012, np.abs(mx) - 0.09, 0.5)
        band = _ramp(np.abs(y - floor - 0.12) - 0.13, w) * _ramp(z + 0.38, w)
        band = band * np.clip(0.4 + 1.2 * np.cos((y - floor) * np.float32(70.0)), 0, 1)
        add("air", low * band * _ramp(nasal, w), box)
    # the maxillary sinuses, air in a thin bony wall
    got = part((floor + 0.17, -0.5), (0.33, 0.13, 0.17))
    if got:
        box, mx, y, z, low, _ = got
        sinus = np.sqrt(
            ((np.abs(mx) - 0.2) / 0.1) ** 2
            + ((y - floor - 0.17) / 0.1) ** 2
            + ((z + 0.5) / 0.14) ** 2
        )
        add("bone", low * _ramp((sinus - 1.15) * 0.1, w), box)
        add("air", low * _ramp((sinus - 1) * 0.1, w), box)
    # the airway from the nasopharynx down, in front of the cervical spine, whose bodies and
    # discs lie in front of the cord (which bends back as it descends, _hindbrain) and its canal
    got = part(((floor + 2.1) / 2, 0.2), (0.2, (1.9 - floor) / 2, 0.4))
    if got:
        box, mx, y, z, low, _ = got
        below = low * np.clip((y - floor - 0.12) / 0.06, 0.0, 1.0)  # below the clivus
        cord_z = _cord_depth(anat, y)
        body_z = cord_z - 0.19
        add("air", below * _ramp(_ellipse(mx, z, 0.0, body_z - 0.15, 0.045, 0.05), w), box)
        spine = below * np.clip((y - floor - 0.2) / 0.05, 0.0, 1.0)
        vertebra = _ellipse(mx, z, 0.0, body_z, 0.085, 0.075)
        canal = np.sqrt(mx * mx + ((z - cord_z) * 1.1) ** 2) - 0.125
        disc = np.cos((y - floor) * np.float32(2 * math.pi / 0.14)) > 0.75
        add("bone", spine * _ramp(np.abs(canal - 0.02) - 0.02, w), box)
        add("bone", spine * _ramp(vertebra, w), box)
        add("fat", spine * 0.6 * _ramp(vertebra + 0.014, w), box)
        add("csf", spine * disc * 0.7 * _ramp(vertebra + 0.006, w), box)
    return layers


@functools.lru_cache(maxsize=16)
def _smooth_upsampling(n: int, box: int) -> np.ndarray:
    """``(n, 24)`` matrix: linear upsampling of 24 samples to ``n``, then a ``box`` mean filter.

    What ``ndimage.zoom(order=1)`` and ``ndimage.uniform_filter`` do along one axis, as a matrix,
    so that a coarse random map becomes smooth texture in two small products.
    """
    up = ndimage.zoom(np.eye(24, dtype=np.float32), (n / 24, 1), order=1)[:n]
    out = ndimage.uniform_filter1d(up, box, axis=0)
    out.flags.writeable = False
    return out


def _stack(alpha, n):
    """``alpha`` broadcast to ``n`` slices (its last two axes kept)."""
    return np.broadcast_to(alpha, (n, *np.shape(alpha)[-2:]))


def _sella(anat, grid, zs, *, midline, w):
    """Bone, sphenoid sinus, cistern (below the brain) and gland, sinuses, carotids (above)."""
    floor = _sella_floor(anat)
    box, x, y, z = grid.crop(zs, (midline, floor + 0.02, 0.0), (0.21, 0.22, 0.2))
    zf = np.sqrt(np.clip(1 - (z / 0.18) ** 2, 0.0, 1.0))
    gw, gh = anat["gland_w"], anat["gland_h"]
    sin_rx, sin_ry = 0.11 * anat["sinus"], 0.07 * anat["sinus"]
    below = [
        ("bone", _ramp(_ellipse(x, y, midline, floor + 0.07, 0.2, 0.13), w) * (zf > 0)),
        ("air", _ramp(_ellipse(x, y, midline, floor + 0.1, sin_rx, sin_ry), w) * zf),
        ("csf", _ramp(_ellipse(x, y, midline, floor - 0.06, 0.11, 0.075), w) * (zf > 0)),
    ]
    above = []
    for side in (-1, 1):
        cx = midline + side * (gw + 0.035)
        above.append(("sinus", _ramp(_ellipse(x, y, cx, floor - 0.035, 0.04, 0.045), w) * zf))
        above.append(("vessel", _ramp(_ellipse(x, y, cx, floor - 0.04, 0.017, 0.017), w) * zf))
    gland = _ramp(_ellipse(x, y, midline, floor - gh, gw * zf + 1e-3, gh * zf + 1e-3), w)
    above.append(("gland", gland))
    n = len(zs)
    below = [(t, _stack(a, n), box) for t, a in below]
    above = [(t, _stack(a, n), box) for t, a in above]
    return {"below": below, "above": above, "floor": floor}


def _hindbrain(anat, grid, zs, midline, intracranial, w):
    """Cerebellum (folia over a white-matter core) below the tentorium, and the brainstem."""
    n = len(zs)
    cy = anat["cy"]
    center = (midline, cy + 0.33, 0.5)
    half = (0.42 * anat["ax"] / 0.65, 0.19, 0.27)
    box, x, y, z = grid.crop(zs, center, (half[0] + 0.05, half[1] + 0.05, half[2] + 0.05))
    q = np.sqrt(
        ((x - center[0]) / half[0]) ** 2
        + ((y - center[1]) / half[1]) ** 2
        + ((z - center[2]) / half[2]) ** 2
    )
    body = _ramp((q - 1) * half[1], w) * intracranial[(slice(None), *box)]
    folia = np.cos(75.0 * np.sqrt((y - center[1] + 0.25) ** 2 + (z - center[2] + 0.1) ** 2))
    core = _ramp((q - 0.55) * half[1], w)
    layers = [
        ("gm", _stack(body, n), box),
        ("wm", _stack(body * np.maximum(core, np.clip(folia - 0.55, 0, 1) * (q < 0.9)), n), box),
        (
            "dura",
            _stack(_ramp(np.abs(q - 1) * half[1] - 0.004, w) * (y < center[1]) * body, n),
            box,
        ),
    ]
    # Brainstem: midbrain, pons (its bulge in front) and medulla, down into the spinal cord.
    top, bottom = cy + 0.12, 1.3
    box, x, y, z = grid.crop(
        zs, (midline, (top + bottom) / 2, 0.25), (0.16, (bottom - top) / 2 + 0.02, 0.2)
    )
    axis_z = _cord_depth(anat, y)
    pons = 0.05 * np.exp(-(((y - (cy + 0.32)) / 0.1) ** 2))
    dist = np.sqrt((x - midline) ** 2 + ((z - axis_z + pons) * 1.1) ** 2)
    radius = 0.1 + pons
    inside = (y > top) * 1.0
    layers.append(("csf", _stack(_ramp(dist - radius - 0.025, w) * inside, n), box))
    layers.append(("wm", _stack(_ramp(dist - radius, w) * inside, n), box))
    return layers


def _deep_structures(anat, grid, zs, midline, vent_y, w, tumor):
    """Lateral ventricles (butterfly), caudate heads, putamina and the third ventricle."""
    layers = []
    n = len(zs)

    def add(tissue, alpha, box):
        layers.append((tissue, _stack(alpha, n), box))

    vz = anat["vent_z"]
    a = anat["vent_angle"]
    ca, sa = math.cos(a), math.sin(a)
    gap = 0.006
    # Seen from above the ventricles are a butterfly: the frontal horns flare either side of the
    # septum, the bodies run back side by side and part, and the atria lie furthest out.
    spread = 0.12 * anat["vent_size"]
    for side in (-1, 1):
        squeeze = tumor.get("ventricle_squeeze", 1.0) if side == tumor.get("side") else 1.0
        cx = midline + side * (gap + 0.075 * ca)
        cy = vent_y + 0.075 * sa * 0.6
        box, x, y, z = grid.crop(
            zs, (cx + side * spread / 2, cy + 0.03, vz), (0.13 + spread / 2, 0.12, 0.47)
        )
        along = np.clip((z - vz) / 0.45, -1.0, 1.0)  # -1 the frontal horn, 1 the atrium
        size = anat["vent_size"] * np.sqrt(1 - along**2)
        length, breadth = 0.12 * size * squeeze + 1e-3, 0.05 * size * squeeze + 1e-3
        cxz = cx + side * spread * ((along + 0.4) / 1.4) ** 2
        dx, dy = x - cxz, y - cy
        u = side * ca * dx + sa * dy
        v = -side * sa * dx + ca * dy
        inside = (np.sqrt((u / length) ** 2 + (v / breadth) ** 2) - 1) * breadth
        medial = _ramp(gap - side * (x - midline), w)
        # the caudate nucleus: a head beside the frontal horn, thinning along the body
        taper = 1 - 0.55 * (along + 1) / 2
        caudate = _ellipse(x, y, cxz + side * 0.06, cy + 0.07, 0.045 * taper, 0.055 * taper)
        add("gm", _ramp(caudate, w) * (size > 0.3), box)
        add("csf", _ramp(inside, w) * medial, box)
        px, py = midline + side * 0.42 * anat["ax"], anat["cy"] + 0.08
        box, x, y, z = grid.crop(zs, (px, py, 0.0), (0.06, 0.12, 0.5))
        putamen = _ellipse(x, y, px, py, 0.05, 0.11)
        add("gm", _ramp(putamen, w) * np.sqrt(np.clip(1 - (z / 0.5) ** 2, 0, 1)), box)
    box, x, y, z = grid.crop(zs, (midline, vent_y + 0.16, 0.15), (0.03, 0.08, 0.12))
    third = _ramp(np.abs(x - midline) - 0.008, w) * _ramp(np.abs(y - vent_y - 0.16) - 0.06, w)
    add("csf", third * (np.abs(z - 0.15) < 0.12), box)
    return layers


# ----------------------------------------------------------------------------- tumours


def sample_tumor(
    class_name: str, rng: np.random.Generator, anat: dict, *, z_center: float, difficulty: float
) -> dict | None:
    """Draw a tumour of one class for a patient, or ``None`` for ``"notumor"``.

    Args:
        class_name: One of ``CLASS_NAMES``.
        rng: The patient's random generator.
        anat: The patient's anatomy from :func:`sample_anatomy`.
        z_center: Coronal position of the middle of the patient's slices.
        difficulty: 0 gives large, strongly enhancing tumours; larger values give smaller and
            subtler ones (1 is the calibrated default).

    Returns:
        A dict of tumour parameters for :func:`head_layers`, or ``None``.

    Raises:
        ValueError: If ``class_name`` is not a class.
    """
    if class_name not in CLASS_NAMES:
        raise ValueError(f"class_name must be one of {CLASS_NAMES}, got {class_name!r}")
    if class_name == "notumor":
        return None
    size = rng.uniform(1.0 - 0.25 * difficulty, 1.25 - 0.15 * difficulty)
    subtle = 1.0 - min(0.9, 0.3 * difficulty) * rng.uniform() ** 2  # enhancement strength
    shape = rng.normal(0.0, 0.1, size=(4, 2))
    if class_name == "glioma":
        side = int(rng.choice([-1, 1]))
        radius = rng.uniform(0.11, 0.2) * size
        zc = z_center + rng.uniform(-0.03, 0.03)
        ext = float(_z_extent(zc))  # the brain narrows towards its poles
        cx = anat["midline"] + side * rng.uniform(0.18, 0.38) * anat["ax"] / 0.65 * ext
        cy = anat["cy"] + rng.uniform(-0.33, 0.08) * ext
        return {
            "kind": "glioma",
            "side": side,
            "center": (cx, cy, zc),
            "radius": radius,
            "radius_z": radius * rng.uniform(1.0, 1.6),
            "shape": shape * 1.6,
            "necrosis": rng.uniform(0.3, 0.7) if rng.uniform() < 0.85 else 0.0,
            "edema": rng.uniform(0.35, 1.0),
            "enhancement": subtle,
            "midline_shift": -side * 1.5 * radius**2,
            "ventricle_squeeze": float(np.clip(1.2 - 3.0 * radius, 0.45, 1.0)),
            # Patchy enhancement: three plane waves of 3 to 6 cycles across the tumour.
            "patch_k": _unit_vectors(rng, 3) * rng.uniform(3.0, 6.0, size=(3, 1)) / radius,
            "patch_phase": rng.uniform(0.0, 2 * math.pi, size=3),
            "patchiness": rng.uniform(0.2, 0.8),
        }
    if class_name == "meningioma":
        side = int(rng.choice([-1, 1]))
        theta = side * rng.uniform(1.35, math.pi - 0.12)
        radius = rng.uniform(0.13, 0.22) * size
        zc = z_center + rng.uniform(-0.03, 0.03)
        rb = _brain_radius_at(anat, theta, zc) + anat["csf_thick"] - 0.45 * radius
        return {
            "kind": "meningioma",
            "side": side,
            "center": (rb * math.sin(theta), anat["cy"] + rb * math.cos(theta), zc),
            "radius": radius,
            "radius_z": radius * rng.uniform(1.1, 1.6),
            "shape": shape * 0.4,
            "edema": rng.uniform(0.2, 0.5) if rng.uniform() < 0.3 else 0.0,
            "enhancement": subtle,
            "ventricle_squeeze": 1.0,
        }
    floor = _sella_floor(anat)
    half_w = rng.uniform(0.1, 0.16) * size
    half_h = rng.uniform(0.1, 0.19) * size
    return {
        "kind": "pituitary",
        "center": (anat["midline"], floor - half_h * 0.9, z_center + rng.uniform(-0.02, 0.02)),
        "radius": half_h,
        "radius_w": half_w,
        "radius_z": max(half_w, 0.06) * rng.uniform(1.1, 1.5),
        "shape": shape * 0.5,
        "enhancement": subtle,
    }


def _tumor_layers(tumor, grid, zs, d_brain, wm, intracranial, csf_thick):
    """Layers and mask of a tumour, computed inside its bounding box only."""
    n = len(zs)
    height, width = grid.shape
    kind = tumor["kind"]
    cx, cy, cz = tumor["center"]
    radius = tumor["radius"]
    reach = radius * (2.2 + tumor.get("edema", 0.0) * 1.5)
    reach_z = tumor["radius_z"] * (2.2 + tumor.get("edema", 0.0) * 1.5)
    (rows, cols), x, y, z = grid.crop(zs, (cx, cy, cz), (reach, reach, reach_z))
    w = np.float32(grid.pixel)
    dx, dy = x - cx, y - cy
    rt = np.sqrt(dx * dx + dy * dy) + np.float32(1e-6)
    rx = tumor.get("radius_w", radius)
    # Irregular outline: radius modulated by harmonics of the in-plane angle.
    cos_t, sin_t = dy / rt, dx / rt
    coef = np.zeros((3, 2, 2))
    coef[:, :, 0] = tumor["shape"][:3]
    c1 = tumor["shape"][3, 0] * cos_t + tumor["shape"][3, 1] * sin_t
    outline = _harmonics(cos_t, sin_t, coef) + c1
    planar = (dx / rx) ** 2 + (dy / radius) ** 2
    q = np.sqrt(planar / outline**2 + ((z - cz) / tumor["radius_z"]) ** 2)  # (S, h, w)
    body = _ramp((q - 1) * radius, w)
    box = (slice(None), rows, cols)
    layers = []

    def add(tissue, alpha):
        layers.append((tissue, _stack(alpha, n), (rows, cols)))

    edema = np.zeros_like(body)
    if tumor.get("edema", 0.0) > 0:
        limit = 1 + tumor["edema"] * (1 + 0.35 * c1 / 0.1)
        edema = _ramp((q - limit) * radius, w) * wm[box] * (1 - body)
        add("edema", edema)
    enhancement = np.float32(tumor["enhancement"])
    core = np.zeros_like(body)  # the part of the body that is necrotic or does not enhance
    if kind == "glioma":
        add("tumor", body)
        wave = sum(
            np.cos(k[0] * dx + k[1] * dy + k[2] * (z - cz) + phase)
            for k, phase in zip(tumor["patch_k"], tumor["patch_phase"], strict=True)
        )
        patch = np.clip(1 + tumor["patchiness"] * (wave / 3 - 0.35), 0, 1)
        enhancing = body * enhancement * patch
        add("enhancing", enhancing)
        core = body * (1 - enhancement * patch)
        if tumor["necrosis"] > 0:
            necrosis = _ramp((q - tumor["necrosis"]) * radius, w)
            add("necrosis", necrosis)
            core = np.maximum(core, necrosis)
    elif kind == "meningioma":
        inner_table = intracranial[box]
        cleft = _ramp((q - 1.12) * radius, w) * inner_table
        add("csf", cleft)
        body = body * inner_table
        add("meningioma", body * (0.55 + 0.45 * enhancement))
        add("tumor", body * (0.45 - 0.45 * enhancement))
        # Dural tail: a thin enhancing strip along the inner table either side of the base.
        band = np.abs(d_brain[box] - 0.6 * csf_thick) - 0.006
        tail = _ramp(band, w) * _ramp((q - 1.9) * radius, w) * (1 - body)
        add("dura", tail)
    else:
        add("adenoma", body)
        add("gland", body * (enhancement - 0.5).clip(0, 1) * 0.5)
    mask = np.zeros((n, height, width), np.uint8)
    inside = np.where(core > 0.5, TUMOR_LABELS["core"], TUMOR_LABELS["enhancing"])
    edema_label = np.where(edema > 0.5, TUMOR_LABELS["edema"], 0)
    mask[box] = np.where(body > 0.5, inside, edema_label).astype(np.uint8)
    return layers, mask
