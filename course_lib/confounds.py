"""Source confounds ("traps") for the synthetic set: shortcuts a model can learn instead of disease.

Scraped public sets (the Kaggle "Brain Tumor MRI Dataset") mix sources, and a source travels
with a class: its no-tumour images came from elsewhere, so they are often T2 or FLAIR while the
tumour images are T1 contrast-enhanced; the views and the fields of view differ by class; some
tumour images carry burned-in arrows and text pointing at the lesion. A model can score well by
reading the source and not the anatomy. Four fields of
:class:`~course_lib.synthetic_spec.SyntheticSpec` put these traps on a switch, each a strength
from 0 (off, the default) to 1:

- ``confound_contrast``: a ``notumor`` patient is rendered in one of :data:`CONFOUND_CONTRASTS`;
- ``confound_plane``: a patient is cut in its class's plane (:data:`CLASS_PLANES`);
- ``confound_fov``: a patient's head is drawn at its class's zoom (:data:`CLASS_FOV`);
- ``confound_marks``: a slice of a tumour class gets an arrow at the tumour and a text label
  (:func:`burn_annotation`).

The mappings are made-up traps for teaching, not facts about any dataset. :func:`draw_traps`
decides a patient's traps from a generator of its own, drawing the same numbers whatever the
strengths, so a patient left untrapped is the very patient of a spec with every strength at 0.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from course_lib._validation import check_choice, check_type
from course_lib.anatomy import tumor_core
from course_lib.config import CLASS_NAMES
from course_lib.synthetic_spec import SyntheticSpec

#: The contrasts a trapped ``notumor`` patient is rendered in (drawn per patient): the other
#: source's sequences, while tumour patients keep the spec's contrast(s).
CONFOUND_CONTRASTS: tuple[str, ...] = ("T2", "FLAIR")

#: Each class's own plane, for ``confound_plane``. Made up for the trap, not a fact about a set.
CLASS_PLANES: dict[str, str] = {
    "glioma": "axial",
    "meningioma": "coronal",
    "notumor": "axial",
    "pituitary": "sagittal",
}

#: Each class's zoom of the head (field of view), for ``confound_fov``: below 1 the head is drawn
#: smaller (a wider field of view), above 1 larger. Made up for the trap, as above.
CLASS_FOV: dict[str, float] = {
    "glioma": 1.0,
    "meningioma": 0.9,
    "notumor": 0.8,
    "pituitary": 1.15,
}

#: The spec fields of the traps, in the order :func:`draw_traps` draws them.
CONFOUND_FIELDS: tuple[str, ...] = (
    "confound_contrast",
    "confound_plane",
    "confound_fov",
    "confound_marks",
)

#: ``spawn_key`` suffix of the traps' generator (beside the patient's own streams 7 and 8).
_STREAM = 9


@dataclass(frozen=True)
class PatientTraps:
    """The traps one patient falls into (what :func:`draw_traps` decided).

    Attributes:
        contrast: The contrast to render instead of the spec's, or ``None`` (no trap).
        plane: The plane to cut instead of the spec's, or ``None`` (no trap).
        fov_scale: The zoom of the head (1.0: no trap).
        marks: One bool per slice of the patient: burn an annotation into it.
        seed_seq: The patient's :class:`numpy.random.SeedSequence`, for :meth:`mark_rng`.
    """

    contrast: str | None
    plane: str | None
    fov_scale: float
    marks: tuple[bool, ...]
    seed_seq: np.random.SeedSequence

    def mark_rng(self, index: int) -> np.random.Generator:
        """The generator of slice ``index``'s annotation (its own, so slices do not interact)."""
        key = (*self.seed_seq.spawn_key, _STREAM, index)
        return np.random.default_rng(np.random.SeedSequence(self.seed_seq.entropy, spawn_key=key))


def draw_traps(
    spec: SyntheticSpec, class_name: str, seed_seq: np.random.SeedSequence
) -> PatientTraps:
    """Decide which traps of ``spec`` one patient falls into.

    The draws come from a generator of their own (``seed_seq``'s ``spawn_key`` extended by 9)
    and are the same numbers whatever the strengths: a trap with strength ``s`` springs when its
    uniform draw is below ``s``, so raising one strength traps more patients without moving the
    others' decisions.

    Args:
        spec: The dataset's spec (its ``confound_*`` strengths and ``slices_per_patient``).
        class_name: The patient's class, one of ``CLASS_NAMES``.
        seed_seq: The patient's seed sequence (as :func:`~course_lib.synthetic.generate_slices`
            gives each patient).

    Returns:
        The patient's :class:`PatientTraps`.

    Raises:
        TypeError: If ``spec`` is not a :class:`~course_lib.synthetic_spec.SyntheticSpec`.
        ValueError: If ``class_name`` is not a class.

    >>> spec = SyntheticSpec(confound_plane=1.0, confound_fov=1.0)
    >>> traps = draw_traps(spec, "pituitary", np.random.SeedSequence(0, spawn_key=(3, 0)))
    >>> traps.plane, traps.fov_scale, traps.contrast, traps.marks
    ('sagittal', 1.15, None, (False, False, False, False))
    """
    check_type("spec", spec, SyntheticSpec, "a SyntheticSpec")
    check_choice("class_name", class_name, CLASS_NAMES)
    key = (*seed_seq.spawn_key, _STREAM)
    rng = np.random.default_rng(np.random.SeedSequence(seed_seq.entropy, spawn_key=key))
    u_contrast, u_plane, u_fov = rng.random(3)
    pick = int(rng.integers(len(CONFOUND_CONTRASTS)))
    u_marks = rng.random(spec.slices_per_patient)
    tumour = class_name != "notumor"
    contrast_trap = not tumour and u_contrast < spec.confound_contrast
    return PatientTraps(
        contrast=CONFOUND_CONTRASTS[pick] if contrast_trap else None,
        plane=CLASS_PLANES[class_name] if u_plane < spec.confound_plane else None,
        fov_scale=CLASS_FOV[class_name] if u_fov < spec.confound_fov else 1.0,
        marks=tuple(bool(tumour and u < spec.confound_marks) for u in u_marks),
        seed_seq=seed_seq,
    )


def burn_annotation(
    image: np.ndarray, tumor_mask: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Burn a white arrow pointing at the tumour and a short text label into a slice.

    As radiologists' key images carry them: the arrow's tip sits just outside the tumour core
    (labels 1 and 3 of the mask; the whole tumour when the slice has no core), its tail points
    away in a random direction that stays inside the image; a label (``"R"`` or ``"L"``, plus a
    case number on slices of 64 pixels or more) goes in a random corner, in PIL's default font.
    A slice without tumour gets the label only. The ink is pure white (1.0).

    Args:
        image: ``(H, W)`` float image in ``[0, 1]`` (not modified).
        tumor_mask: ``(H, W)`` mask with :data:`~course_lib.anatomy.TUMOR_LABELS` values.
        rng: Generator of the arrow's direction and the label.

    Returns:
        ``(H, W)`` float32, ``image`` with the annotation's pixels raised to white.

    Raises:
        ValueError: If ``image`` is not 2D or ``tumor_mask`` has another shape.
        TypeError: If ``rng`` is not a :class:`numpy.random.Generator`.

    >>> out = burn_annotation(np.zeros((64, 64)), np.zeros((64, 64)), np.random.default_rng(0))
    >>> out.dtype, float(out.max()), bool((out > 0).sum() > 10)
    (dtype('float32'), 1.0, True)
    """
    image = np.asarray(image, dtype=np.float32)
    tumor_mask = np.asarray(tumor_mask)
    if image.ndim != 2 or tumor_mask.shape != image.shape:
        raise ValueError(
            f"image must be (H, W) and tumor_mask the same shape, got {image.shape} and "
            f"{tumor_mask.shape}"
        )
    check_type("rng", rng, np.random.Generator, "a numpy Generator")
    height, width = image.shape
    canvas = Image.new("L", (width, height), 0)
    draw = ImageDraw.Draw(canvas)
    draw.fontmode = "1"  # no anti-aliasing: the overlay's pixels are pure white, as burned in
    target = tumor_core(tumor_mask)
    if not target.any():
        target = tumor_mask > 0
    angle = float(rng.uniform(0.0, 2 * math.pi))
    if target.any():
        _draw_arrow(draw, target, angle, (height, width))
    _draw_label(draw, rng, (height, width))
    ink = np.asarray(canvas, dtype=np.float32) / np.float32(255)
    return np.maximum(image, ink)


def _draw_arrow(draw: ImageDraw.ImageDraw, target: np.ndarray, angle: float, shape) -> None:
    """An arrow at ``target``: its tip just past the target's edge, seen from its centre."""
    height, width = shape
    rows, cols = np.nonzero(target)
    cy, cx = rows.mean(), cols.mean()
    nearest = int(np.argmin((rows - cy) ** 2 + (cols - cx) ** 2))
    ty, tx = float(rows[nearest]), float(cols[nearest])  # inside the target, even for a ring
    gap, length = max(1.0, 0.02 * height), max(6.0, 0.22 * height)
    turns = [angle + turn * math.pi / 4 for turn in range(8)]
    for a in turns:  # the first direction whose arrow stays inside the image
        tip, tail, (dx, dy) = _arrow_ends(rows - ty, cols - tx, (tx, ty), a, gap, length)
        if all(1 <= x <= width - 2 and 1 <= y <= height - 2 for x, y in (tip, tail)):
            break
    else:
        tip, tail, (dx, dy) = _arrow_ends(rows - ty, cols - tx, (tx, ty), angle, gap, length)
    head = max(3.0, 0.07 * height)
    base = (tip[0] + dx * head, tip[1] + dy * head)
    side = (-dy * head * 0.6, dx * head * 0.6)
    draw.line([base, tail], fill=255, width=max(1, round(height / 64)))
    draw.polygon(
        [tip, (base[0] + side[0], base[1] + side[1]), (base[0] - side[0], base[1] - side[1])],
        fill=255,
    )


def _arrow_ends(dr, dc, start, angle, gap, length):
    """Tip, tail and direction of an arrow along ``angle`` from ``start`` out of the target.

    ``dr``, ``dc`` are the target's pixels relative to ``start``; the tip sits ``gap`` past
    the farthest of them along the ray (within 1.5 pixels of it).
    """
    dx, dy = math.cos(angle), math.sin(angle)
    along = dc * dx + dr * dy
    near_ray = np.abs(dr * dx - dc * dy) <= 1.5
    reach = float(along[near_ray & (along >= 0)].max(initial=0.0)) + gap
    tip = (start[0] + dx * reach, start[1] + dy * reach)
    tail = (start[0] + dx * (reach + length), start[1] + dy * (reach + length))
    return tip, tail, (dx, dy)


def _draw_label(draw: ImageDraw.ImageDraw, rng: np.random.Generator, shape) -> None:
    """``"R"`` or ``"L"`` (and a case number when there is room) in a random corner."""
    height, width = shape
    letter = "RL"[int(rng.integers(2))]
    number = int(rng.integers(1, 100))
    corner = int(rng.integers(4))
    text = letter if height < 64 else f"{letter} {number}"
    size = max(7, round(height / 10))
    try:
        font = ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1: one bitmap size only
        font = ImageFont.load_default()
    left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
    margin = max(1, height // 32)
    x = margin - left if corner in (0, 2) else width - margin - right
    y = margin - top if corner in (0, 1) else height - margin - bottom
    draw.text((x, y), text, fill=255, font=font)
