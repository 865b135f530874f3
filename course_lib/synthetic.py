"""Synthetic brain MRI: procedurally generated slices and volumes with full ground truth.

Real MRI cannot be downloaded in CI or offline, so the course's default dataset is drawn here.
Each *patient* is an implicit 3D head (skull, scalp, CSF, folded cortex, white matter, butterfly
lateral ventricles, basal ganglia, falx, cerebellum, brainstem, sella with the pituitary gland),
cut in any plane (coronal, axial or sagittal: ``plane``); only the slices
that are asked for are evaluated, so a patient costs a few milliseconds. A tumour of the patient's
class is placed in that head:

- ``glioma``: irregular intra-axial mass in the white matter, necrotic core, enhancing rim,
  surrounding edema, mass effect (midline shift, compressed ventricle);
- ``meningioma``: extra-axial, well circumscribed, broad base on the inner skull, homogeneous
  enhancement, a CSF cleft and a dural tail;
- ``pituitary``: an enlarged sellar mass low in the image, at the midline above the sphenoid sinus;
- ``notumor``: the anatomy alone (its normal pituitary gland and enhancing sinuses included).

The head is rendered in one of :data:`CONTRASTS` and then *acquired* at a scanner site (see
:data:`SITE_PROFILES`): smooth multiplicative bias field, blur, optional motion ghosting, Rician
noise and a site-specific intensity scale, offset, gamma and tissue contrast
(:mod:`course_lib.acquisition`). What a dataset holds is one :class:`SyntheticSpec`
(:mod:`course_lib.synthetic_spec`); its ``confound_*`` fields switch on the source confounds of
scraped sets (contrast, plane and field of view by class, burned-in annotations:
:mod:`course_lib.confounds`).

Coordinates: images are ``(H, W)`` with rows running from the top of the head (superior) down to
the skull base (inferior) and columns across the head; a volume is ``(D, H, W)`` with ``D`` running
front to back (anterior to posterior). Everything is deterministic given ``seed``; each patient has
its own child seed (:class:`numpy.random.SeedSequence`) so adding classes or patients does not
change the others.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from course_lib._validation import check_choice, check_int, check_number
from course_lib.acquisition import (
    CONTRASTS,
    SITE_PROFILES,
    TISSUE_INTENSITIES,
    SiteProfile,
    acquire,
    add_motion_ghosting,
    add_rician_noise,
    contrast_names,
    jittered_site,
    random_site,
    random_tissue_intensities,
    render_contrast,
    simulate_bias_field,
    site_names,
    tissue_intensities,
)
from course_lib.anatomy import (
    PixelGrid,
    head_layers,
    sample_anatomy,
    sample_tumor,
    smooth_field,
    tumor_core,
)
from course_lib.config import CLASS_NAMES
from course_lib.confounds import (
    CLASS_FOV,
    CLASS_PLANES,
    CONFOUND_CONTRASTS,
    CONFOUND_FIELDS,
    burn_annotation,
    draw_traps,
)
from course_lib.synthetic_spec import GENERATOR_VERSION, SyntheticSpec, plane_names

#: Re-exported so that lessons read the whole engine from one module.
__all__ = [
    "CLASS_FOV",
    "CLASS_PLANES",
    "CONFOUND_CONTRASTS",
    "CONFOUND_FIELDS",
    "CONTRASTS",
    "GENERATOR_VERSION",
    "SITE_PROFILES",
    "TISSUE_INTENSITIES",
    "VOLUME_HALF_DEPTH",
    "SiteProfile",
    "SyntheticSlices",
    "SyntheticSpec",
    "acquire",
    "add_motion_ghosting",
    "add_rician_noise",
    "burn_annotation",
    "generate_slices",
    "generate_volume",
    "render_contrast",
    "simulate_bias_field",
    "site_names",
    "tissue_intensities",
]


@dataclass
class SyntheticSlices:
    """A generated set of 2D slices with their ground truth.

    Attributes:
        images: ``(N, H, W)`` float32 in ``[0, 1]``.
        brain_masks: ``(N, H, W)`` bool, the intracranial space (brain, CSF, ventricles, tumour).
        tumor_masks: ``(N, H, W)`` uint8 with :data:`~course_lib.anatomy.TUMOR_LABELS` values:
            0 none, 1 necrotic or non-enhancing core, 2 edema, 3 enhancing tumour.
        bias_fields: ``(N, H, W)`` float32, the multiplicative bias applied (mean 1 in the brain).
        metadata: One row per slice: ``label`` (int, index into ``CLASS_NAMES``), ``class_name``,
            ``patient_id``, ``site``, ``contrast``, ``plane``, ``slice_index`` (position in the
            patient),
            ``duplicate_of`` (row index this slice is a near-copy of, or -1),
            ``tumor_pixels`` (pixels of the tumour core, labels 1 and 3), and the traps applied
            (:mod:`course_lib.confounds`): ``marked`` (bool, a burned-in annotation) and
            ``fov_scale`` (the zoom of the head, 1.0 without the trap); ``contrast`` and
            ``plane`` are the ones the slice was drawn in.
    """

    images: np.ndarray
    brain_masks: np.ndarray
    tumor_masks: np.ndarray
    bias_fields: np.ndarray
    metadata: pd.DataFrame

    def __len__(self) -> int:
        return len(self.images)


# ----------------------------------------------------------------------------- patients


def _patient(
    class_name,
    seed_seq,
    *,
    zs_count,
    image_size,
    site,
    contrasts,
    difficulty,
    dz=None,
    randomize=0.0,
    plane="coronal",
    fov_scale=1.0,
):
    """Render one patient: dict of images per contrast and the ground truth stacks.

    ``randomize`` > 0 draws the tissue intensities, the scanner and a wider pose at random from
    a generator of its own, so the anatomy and the tumour stay those of ``randomize=0``. An
    axial or sagittal ``plane`` cuts the slices through the tumour (or, without one, through
    the ventricles or a hemisphere); the slices' position comes from a generator of its own too.
    ``fov_scale`` zooms the head (and so its masks) about the image centre.
    """
    rng = np.random.default_rng(seed_seq)
    anat = sample_anatomy(rng)
    if randomize > 0:
        wild = np.random.default_rng(
            np.random.SeedSequence(seed_seq.entropy, spawn_key=(*seed_seq.spawn_key, 7))
        )
        angle, tx, ty, scale = anat["pose"]
        anat["pose"] = (
            angle + randomize * float(wild.normal(0.0, 0.2)),
            tx + randomize * float(wild.uniform(-0.06, 0.06)),
            ty + randomize * float(wild.uniform(-0.06, 0.06)),
            scale * (1 + randomize * float(wild.uniform(-0.15, 0.12))),
        )
    if fov_scale != 1.0:
        angle, tx, ty, scale = anat["pose"]
        anat["pose"] = (angle, tx * fov_scale, ty * fov_scale, scale * fov_scale)
    if dz is None:
        dz = rng.uniform(0.035, 0.05)
        z_center = rng.uniform(-0.05, 0.05)
        zs = z_center + (np.arange(zs_count) - (zs_count - 1) / 2) * dz
    else:
        z_center, zs = 0.0, dz
    if plane != "coronal":
        cut = np.random.default_rng(
            np.random.SeedSequence(seed_seq.entropy, spawn_key=(*seed_seq.spawn_key, 8))
        )
        if class_name in ("glioma", "meningioma"):  # anywhere from the front to the back
            z_center = float(cut.uniform(-0.5, 0.5))
    tumor = sample_tumor(class_name, rng, anat, z_center=z_center, difficulty=difficulty)
    if plane != "coronal":
        zs = _cut_positions(plane, anat, tumor, cut, zs_count, float(dz))
    height, width = image_size
    grid = PixelGrid(height, width, anat["pose"], plane)
    layers, brain, tumor_mask, texture = head_layers(anat, zs, grid, tumor)
    profile = jittered_site(SITE_PROFILES[site], rng)
    if randomize > 0:
        profile = random_site(wild, randomize, around=profile)
    bias = smooth_field(
        rng, grid.ys, grid.xs, np.asarray(zs) * 1.5, max_freq=0.6, n=3
    ) * np.float32(profile.bias)
    bias = np.exp(bias)
    bias /= bias[brain].mean() if brain.any() else bias.mean()
    images = {}
    for contrast in contrasts:
        values = (
            random_tissue_intensities(wild, randomize, contrast=contrast) if randomize > 0 else None
        )
        rendered = render_contrast(layers, contrast, site=profile, values=values) * texture
        images[contrast] = acquire(rendered, bias, profile, rng)
    return images, brain, tumor_mask, bias.astype(np.float32)


def _cut_positions(plane, anat, tumor, rng, count, spacing):
    """Axial (``y``) or sagittal (``x``) slice positions through the tumour, or the brain."""
    axis = 1 if plane == "axial" else 0
    if tumor is not None:
        center = tumor["center"][axis] + rng.uniform(-0.3, 0.3) * tumor["radius"]
    elif plane == "axial":  # from the centrum semiovale down to the temporal lobes
        center = anat["cy"] + rng.uniform(-0.35, 0.22)
    else:
        center = anat["midline"] + rng.choice([-1, 1]) * rng.uniform(0.03, 0.4)
    positions = center + (np.arange(count) - (count - 1) / 2) * spacing
    if plane == "sagittal":  # off the interhemispheric fissure: the medial surface shows
        off = positions - anat["midline"]
        positions = anat["midline"] + np.where(np.abs(off) < 0.015, np.copysign(0.015, off), off)
    return positions


def _assignment(k: int, label: int, seed: int, sites, contrasts, planes):
    """Site, contrast and plane of a class's ``k``-th patient.

    Sites cycle in turn (every class spreads evenly over them). Contrast and plane come from a
    shuffled round of all their combinations, one round per ``len(contrasts) * len(planes)``
    patients, so each is balanced within a class and neither is tied to the site (cycled by
    one index, every axial slice would come from one site and one contrast).
    """
    rounds = len(contrasts) * len(planes)
    block, position = divmod(k, rounds)
    combo = 0
    if rounds > 1:
        shuffle = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(97, label, block)))
        combo = int(shuffle.permutation(rounds)[position])
    contrast, plane = divmod(combo, len(planes))
    return sites[(k + label) % len(sites)], contrasts[contrast], planes[plane]


# ----------------------------------------------------------------------------- public API


def generate_slices(per_class: int | Mapping[str, int] | SyntheticSpec = 100, **options):
    """Generate a labelled set of synthetic brain-MRI slices, grouped by patient.

    Each class gets ``ceil(count / slices_per_patient)`` patients; each patient contributes
    neighbouring slices of one 3D head, scanned at one site (sites are assigned in turn within a
    class, so every class is spread evenly over the sites) in one contrast and one plane (with
    several, each class gets every contrast-plane pair in turn, in a shuffled order, so neither
    is tied to the site). Rows are ordered class by class, patient by patient.

    Args:
        per_class: Slices per class: one int for all, or ``{class_name: count}`` (missing classes
            get 0), which makes an imbalanced set. Or a whole :class:`SyntheticSpec`: then every
            class gets its training plus its testing slices (what the dataset writer splits).
        **options: Any other field of :class:`SyntheticSpec`, with the spec's defaults:
            ``image_size`` (128), ``slices_per_patient`` (4), ``sites`` (3), ``contrast``
            (``"T1CE"``), ``difficulty`` (1; calibrated so that a linear model on pixels does
            poorly and a small CNN does well), ``duplicates`` (0; a fraction of slices appended
            again as near-duplicates under a new patient id ``D<row>``, as in scraped public
            sets; ``metadata.duplicate_of`` names the source), ``seed`` (0; each patient uses
            its own child seed, so a patient does not change when other classes or counts
            change) and the traps ``confound_contrast``, ``confound_plane``, ``confound_marks``
            and ``confound_fov`` (0, off; :mod:`course_lib.confounds`).

    Returns:
        A :class:`SyntheticSlices` with ``(N, H, W)`` float32 images in ``[0, 1]``.

    Raises:
        ValueError: If a count, size, difficulty, fraction, site or contrast is out of range.
        TypeError: If an argument has the wrong type, or ``options`` are given with a spec.

    >>> data = generate_slices(2, image_size=32, slices_per_patient=2, seed=0)
    >>> data.images.shape, data.images.dtype, list(data.metadata["class_name"][::2])
    ((8, 32, 32), dtype('float32'), ['glioma', 'meningioma', 'notumor', 'pituitary'])
    """
    if isinstance(per_class, SyntheticSpec):
        if options:
            raise TypeError(f"give a SyntheticSpec or options, not both (got {sorted(options)})")
        spec = per_class
        counts = spec.total_counts()
    else:
        spec = SyntheticSpec(per_class=per_class, test_per_class=0, **options)
        counts = spec.class_counts()
    image_size, slices_per_patient = spec.image_size, spec.slices_per_patient
    seed, difficulty, randomize = spec.seed, spec.difficulty, spec.randomize
    site_list = site_names(spec.sites)
    contrasts = contrast_names(spec.contrast)
    planes = plane_names(spec.plane)

    images, brains, tumors, biases, rows = [], [], [], [], []
    n_patients = sum(math.ceil(n / slices_per_patient) for n in counts.values())
    ids = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(99,))).permutation(
        n_patients
    )
    patient = 0
    for label, class_name in enumerate(CLASS_NAMES):
        remaining = counts[class_name]
        k = 0
        while remaining > 0:
            n = min(slices_per_patient, remaining)
            site, seq, plane = _assignment(k, label, seed, site_list, contrasts, planes)
            seed_seq = np.random.SeedSequence(seed, spawn_key=(label, k))
            traps = draw_traps(spec, class_name, seed_seq)
            seq = traps.contrast or seq
            plane = traps.plane or plane
            imgs, brain, tumor, bias = _patient(
                class_name,
                seed_seq,
                zs_count=slices_per_patient,
                image_size=(image_size, image_size),
                site=site,
                contrasts=(seq,),
                difficulty=float(difficulty),
                randomize=float(randomize),
                plane=plane,
                fov_scale=traps.fov_scale,
            )
            slices = imgs[seq][:n]
            for i in range(n):
                if traps.marks[i]:
                    slices[i] = burn_annotation(slices[i], tumor[i], traps.mark_rng(i))
            images.append(slices)
            brains.append(brain[:n])
            tumors.append(tumor[:n])
            biases.append(bias[:n])
            for i in range(n):
                rows.append(
                    {
                        "label": label,
                        "class_name": class_name,
                        "patient_id": f"P{ids[patient]:04d}",
                        "site": site,
                        "contrast": seq,
                        "plane": plane,
                        "slice_index": i,
                        "duplicate_of": -1,
                        "tumor_pixels": int(tumor_core(tumor[i]).sum()),
                        "marked": traps.marks[i],
                        "fov_scale": traps.fov_scale,
                    }
                )
            remaining -= n
            k += 1
            patient += 1
    data = SyntheticSlices(
        images=np.concatenate(images),
        brain_masks=np.concatenate(brains),
        tumor_masks=np.concatenate(tumors),
        bias_fields=np.concatenate(biases),
        metadata=pd.DataFrame(rows),
    )
    if spec.duplicates > 0:
        data = _add_duplicates(data, spec.duplicates, np.random.SeedSequence(seed, spawn_key=(98,)))
    return data


def _add_duplicates(data: SyntheticSlices, fraction: float, seed_seq) -> SyntheticSlices:
    """Append near-copies of a random ``fraction`` of the slices, as public sets hold them.

    A copy is the same slice saved again (a small gain change and a little extra noise, as
    re-encoding leaves) under a *new* patient id ``D<source row>``: in scraped datasets the copy
    carries no link to its patient, so a patient-level split can still put the two on opposite
    sides. Perceptual hashing finds them; ``metadata.duplicate_of`` is the ground truth.
    """
    rng = np.random.default_rng(seed_seq)
    count = int(round(fraction * len(data)))
    if count == 0:
        return data
    sources = np.sort(rng.choice(len(data), size=count, replace=False))
    copies = []
    for src in sources:
        image = data.images[src] * rng.uniform(0.97, 1.03)
        image = image + rng.normal(0.0, 0.01, image.shape).astype(np.float32)
        copies.append(np.clip(image, 0, 1).astype(np.float32))
    meta = data.metadata.iloc[sources].copy()
    meta["duplicate_of"] = sources
    meta["patient_id"] = [f"D{src:04d}" for src in sources]
    return SyntheticSlices(
        images=np.concatenate([data.images, np.stack(copies)]),
        brain_masks=np.concatenate([data.brain_masks, data.brain_masks[sources]]),
        tumor_masks=np.concatenate([data.tumor_masks, data.tumor_masks[sources]]),
        bias_fields=np.concatenate([data.bias_fields, data.bias_fields[sources]]),
        metadata=pd.concat([data.metadata, meta], ignore_index=True),
    )


#: A volume's coronal slices run from ``-VOLUME_HALF_DEPTH`` (in front of the face) to
#: ``+VOLUME_HALF_DEPTH`` (behind the head), in head units.
VOLUME_HALF_DEPTH = 0.98


def generate_volume(
    class_name: str,
    *,
    shape: Sequence[int] = (32, 128, 128),
    contrasts: Sequence[str] = CONTRASTS,
    site: str = "site_A",
    difficulty: float = 1.0,
    seed: int = 0,
) -> dict:
    """Generate one patient's 3D head in several co-registered contrasts.

    The ``D`` coronal slices run through the whole head, from in front of the face
    (``-VOLUME_HALF_DEPTH``) to behind the occiput (``+VOLUME_HALF_DEPTH``); the tumour sits
    near the middle, close to the sella. Cut the volume along its other axes for axial and
    sagittal slices; ``spacing`` gives the voxel size for display (slices are usually thicker
    than the pixels are wide, as on a scanner).

    Args:
        class_name: One of ``CLASS_NAMES``.
        shape: ``(D, H, W)``, each at least 2 (H and W at least 16).
        contrasts: Contrast names from :data:`CONTRASTS`.
        site: A site name from :data:`SITE_PROFILES`.
        difficulty: As in :func:`generate_slices`.
        seed: Seed of the patient.

    Returns:
        ``{"images": {contrast: (D, H, W) float32 in [0, 1]}, "brain_mask": (D, H, W) bool,
        "tumor_mask": (D, H, W) uint8, "bias_field": (D, H, W) float32, "spacing": (dz, dy,
        dx)}``, the spacing in head units (the image spans 2 units from top to bottom).

    Raises:
        ValueError: If an argument is out of range or names nothing known.
        TypeError: If ``seed`` is not an int or ``difficulty`` not a number.

    >>> vol = generate_volume("glioma", shape=(4, 32, 32), contrasts=("T1", "FLAIR"))
    >>> vol["images"]["FLAIR"].shape, vol["tumor_mask"].dtype, sorted(vol["images"])
    ((4, 32, 32), dtype('uint8'), ['FLAIR', 'T1'])
    """
    check_choice("class_name", class_name, CLASS_NAMES)
    shape = tuple(shape)
    if len(shape) != 3 or shape[0] < 2 or min(shape[1:]) < 16:
        raise ValueError(f"shape must be (D, H, W) with D >= 2 and H, W >= 16, got {shape}")
    names = contrast_names(contrasts)
    check_choice("site", site, SITE_PROFILES)
    check_number("difficulty", difficulty, minimum=0, maximum=3)
    check_int("seed", seed, minimum=0)
    zs = np.linspace(-VOLUME_HALF_DEPTH, VOLUME_HALF_DEPTH, shape[0])
    images, brain, tumor, bias = _patient(
        class_name,
        np.random.SeedSequence(seed),
        zs_count=shape[0],
        image_size=shape[1:],
        site=site,
        contrasts=names,
        difficulty=float(difficulty),
        dz=zs,
    )
    spacing = (2 * VOLUME_HALF_DEPTH / (shape[0] - 1), 2 / (shape[1] - 1), 2 / (shape[2] - 1))
    return {
        "images": images,
        "brain_mask": brain,
        "tumor_mask": tumor,
        "bias_field": bias,
        "spacing": spacing,
    }
