"""course_lib.confounds: the source-confound traps of the synthetic set, on a switch."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import ndimage

from course_lib.anatomy import tumor_core
from course_lib.cli import cli_main
from course_lib.config import CLASS_NAMES
from course_lib.confounds import (
    CLASS_FOV,
    CLASS_PLANES,
    CONFOUND_CONTRASTS,
    CONFOUND_FIELDS,
    burn_annotation,
    draw_traps,
)
from course_lib.datasets import prepare_synthetic
from course_lib.synthetic import generate_slices
from course_lib.synthetic_spec import SyntheticSpec

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
SMALL = {"per_class": 4, "image_size": 48, "slices_per_patient": 2, "seed": 4}
TUMOUR = [c for c in CLASS_NAMES if c != "notumor"]


@pytest.fixture(scope="module")
def plain():
    return generate_slices(**SMALL)


def _is(meta: pd.DataFrame, *classes: str) -> np.ndarray:
    return meta["class_name"].isin(classes).to_numpy()


# ----------------------------------------------------------------------------- off by default


def test_traps_are_off_by_default_and_strength_zero_is_the_plain_set(plain):
    spec = SyntheticSpec()
    assert all(getattr(spec, name) == 0.0 for name in CONFOUND_FIELDS)
    zeros = generate_slices(**SMALL, **dict.fromkeys(CONFOUND_FIELDS, 0.0))
    for name in ("images", "brain_masks", "tumor_masks", "bias_fields"):
        np.testing.assert_array_equal(getattr(zeros, name), getattr(plain, name))
    pd.testing.assert_frame_equal(zeros.metadata, plain.metadata)
    assert not plain.metadata["marked"].any()
    assert (plain.metadata["fov_scale"] == 1.0).all()
    assert (plain.metadata["contrast"] == "T1CE").all()
    assert (plain.metadata["plane"] == "coronal").all()


def test_spec_without_the_fields_reads_back_as_traps_off():
    """A dataset.json written before the traps existed names the same spec as traps at 0."""
    spec = SyntheticSpec.from_profile("smoke")
    old = {k: v for k, v in spec.params().items() if not k.startswith("confound_")}
    assert SyntheticSpec(**old) == spec
    trapped = spec.replace(confound_marks=0.5)
    assert SyntheticSpec(**trapped.params()) == trapped
    assert trapped.folder_name() != spec.folder_name()


# ----------------------------------------------------------------------------- each trap at 1


def test_contrast_trap_renders_notumor_in_t2_or_flair_and_keeps_tumour_contrasts(plain):
    data = generate_slices(**{**SMALL, "per_class": 12}, confound_contrast=1.0)
    meta = data.metadata
    notumor = _is(meta, "notumor")
    assert set(meta.contrast[notumor]) == set(CONFOUND_CONTRASTS)  # both drawn, nothing else
    assert (meta.contrast[~notumor] == "T1CE").all()
    cycled = generate_slices(**SMALL, contrast=("T1", "T1CE"), confound_contrast=1.0).metadata
    assert set(cycled.contrast[~_is(cycled, "notumor")]) == {"T1", "T1CE"}
    assert set(cycled.contrast[_is(cycled, "notumor")]) <= set(CONFOUND_CONTRASTS)
    trapped = generate_slices(**SMALL, confound_contrast=1.0)
    tumour = ~_is(plain.metadata, "notumor")
    np.testing.assert_array_equal(trapped.images[tumour], plain.images[tumour])
    np.testing.assert_array_equal(trapped.tumor_masks, plain.tumor_masks)
    assert np.abs(trapped.images[~tumour] - plain.images[~tumour]).mean() > 0.03


def test_plane_trap_cuts_each_class_in_its_own_plane():
    data = generate_slices(**SMALL, plane="sagittal", confound_plane=1.0)
    meta = data.metadata
    assert (meta.plane == meta.class_name.map(CLASS_PLANES)).all()
    for name in TUMOUR:  # the cut still goes through the tumour
        assert (data.tumor_masks[_is(meta, name)] > 0).any(axis=(1, 2)).all()


def test_marks_trap_burns_an_arrow_at_the_tumour_and_a_text_label(plain):
    data = generate_slices(**SMALL, confound_marks=1.0)
    meta = data.metadata
    notumor = _is(meta, "notumor")
    assert meta.marked[~notumor].all() and not meta.marked[notumor].any()
    np.testing.assert_array_equal(data.images[notumor], plain.images[notumor])
    np.testing.assert_array_equal(data.tumor_masks, plain.tumor_masks)  # anatomy unchanged
    np.testing.assert_array_equal(data.brain_masks, plain.brain_masks)
    size = SMALL["image_size"]
    corner = size // 4
    for i in np.flatnonzero(~notumor):
        ink = data.images[i] - plain.images[i]
        assert ink.min() >= 0  # burned in: pixels only ever raised
        inked = ink > 0.2
        assert (data.images[i][inked] == 1.0).all()  # pure white ink
        text = np.zeros_like(inked)
        for rows in (slice(0, corner), slice(size - corner, size)):
            for cols in (slice(0, corner), slice(size - corner, size)):
                text[rows, cols] = True
        assert (inked & text).sum() >= 5  # the label, in a corner
        core = tumor_core(data.tumor_masks[i])
        assert core.any()
        away = ndimage.distance_transform_edt(~core)
        arrow = inked & ~text
        assert arrow.sum() >= 8
        assert away[arrow].min() <= 4  # its tip right at the tumour core
        assert (arrow & core).sum() <= 2  # and it does not paint over the tumour
        assert away[inked].max() > size / 8  # its tail reaches out: an arrow, not a blob


def test_fov_trap_zooms_each_class_head_as_its_constant_says(plain):
    data = generate_slices(**SMALL, confound_fov=1.0)
    meta = data.metadata
    assert (meta.fov_scale == meta.class_name.map(CLASS_FOV)).all()
    area = data.brain_masks.sum(axis=(1, 2))
    before = plain.brain_masks.sum(axis=(1, 2))
    for name in CLASS_NAMES:
        ratio = area[_is(meta, name)].sum() / before[_is(meta, name)].sum()
        assert ratio == pytest.approx(CLASS_FOV[name] ** 2, rel=0.12), name
    assert CLASS_FOV["notumor"] < 1 < CLASS_FOV["pituitary"]
    glioma = _is(meta, "glioma")  # zoom 1: the very same images
    np.testing.assert_array_equal(data.images[glioma], plain.images[glioma])
    inside = data.tumor_masks > 0  # the masks follow the zoom: the tumour stays in the head
    assert (inside & ~data.brain_masks).sum() <= (plain.tumor_masks > 0).sum() * 0.05


# ----------------------------------------------------------------------------- mixes


def test_strength_half_mixes_and_untrapped_patients_are_unchanged():
    kwargs = {**SMALL, "per_class": 16, "plane": "sagittal"}
    plain = generate_slices(**kwargs)
    half = generate_slices(**kwargs, **dict.fromkeys(CONFOUND_FIELDS, 0.5))
    meta = half.metadata
    notumor = _is(meta, "notumor")
    assert set(meta.contrast[notumor]) > {"T1CE"}
    assert 0.2 < meta.marked[~notumor].mean() < 0.8
    assert {"sagittal", "axial"} <= set(meta.plane[_is(meta, "glioma")])
    assert {1.0} < set(meta.fov_scale) <= {1.0, *CLASS_FOV.values()}
    untouched = (
        ~meta.marked
        & (meta.fov_scale == 1.0)
        & (meta.contrast == "T1CE")
        & (meta.plane == "sagittal")
    ).to_numpy()
    assert 0 < untouched.sum() < len(meta)
    np.testing.assert_array_equal(half.images[untouched], plain.images[untouched])
    assert (np.abs(half.images - plain.images).max(axis=(1, 2))[~untouched] > 0).all()
    # one trap's strength does not move another's decisions
    marks_only = generate_slices(**kwargs, confound_marks=0.5).metadata
    np.testing.assert_array_equal(marks_only.marked, meta.marked)


def test_contrast_trap_is_a_shortcut_without_any_classifier():
    """The rim outside the brain (skull, scalp fat) is bright on T1CE and dim on T2 and FLAIR:
    one intensity ratio tells notumor from the tumours once the trap is on."""

    def rim_ratio(data):
        out = []
        for image, brain in zip(data.images, data.brain_masks, strict=True):
            rim = ndimage.binary_dilation(brain, iterations=4) & ~brain
            out.append(image[rim].mean() / image[brain].mean())
        return np.array(out)

    def separation(data):  # how often a notumor slice is below a tumour slice (AUC)
        ratio, notumor = rim_ratio(data), _is(data.metadata, "notumor")
        return (ratio[notumor][:, None] < ratio[~notumor][None, :]).mean()

    kwargs = {**SMALL, "per_class": 12, "seed": 2}
    assert 0.2 < separation(generate_slices(**kwargs)) < 0.8
    trapped = generate_slices(**kwargs, confound_contrast=1.0)
    assert separation(trapped) > 0.95
    ratio, notumor = rim_ratio(trapped), _is(trapped.metadata, "notumor")
    assert ratio[~notumor].mean() - ratio[notumor].mean() > 0.2


# ----------------------------------------------------------------------------- bad values


@pytest.mark.parametrize("name", CONFOUND_FIELDS)
@pytest.mark.parametrize(
    ("value", "error", "match"),
    [
        (-0.1, ValueError, "must be between 0 and 1, got -0.1"),
        (1.5, ValueError, "must be between 0 and 1, got 1.5"),
        ("0.5", TypeError, "must be a number, got '0.5'"),
        (True, TypeError, "must be a number, got True"),
        (float("nan"), ValueError, "must be a finite number"),
    ],
)
def test_bad_strengths_are_refused(name, value, error, match):
    with pytest.raises(error, match=f"{name} {match}"):
        SyntheticSpec(**{name: value})
    with pytest.raises(error, match=name):
        generate_slices(1, image_size=32, **{name: value})


def test_draw_traps_checks_its_arguments():
    seed_seq = np.random.SeedSequence(0)
    with pytest.raises(TypeError, match="spec must be a SyntheticSpec"):
        draw_traps({"confound_marks": 1.0}, "glioma", seed_seq)
    with pytest.raises(ValueError, match="class_name must be one of"):
        draw_traps(SyntheticSpec(), "astrocytoma", seed_seq)


def test_burn_annotation_checks_its_arguments():
    image, rng = np.zeros((32, 32)), np.random.default_rng(0)
    with pytest.raises(ValueError, match=r"same shape, got \(32, 32\) and \(16, 16\)"):
        burn_annotation(image, np.zeros((16, 16)), rng)
    with pytest.raises(ValueError, match=r"must be \(H, W\)"):
        burn_annotation(np.zeros((2, 32, 32)), np.zeros((2, 32, 32)), rng)
    with pytest.raises(TypeError, match="rng must be a numpy Generator"):
        burn_annotation(image, np.zeros((32, 32)), 0)


def test_burn_annotation_without_tumour_writes_only_the_label_and_leaves_its_input():
    image = np.full((64, 64), 0.3, dtype=np.float32)
    mask = np.zeros((64, 64), dtype=np.uint8)
    out = burn_annotation(image, mask, np.random.default_rng(1))
    assert (image == np.float32(0.3)).all()  # input untouched
    inked = np.argwhere(out > 0.5)
    assert len(inked) > 5
    spread = inked.max(axis=0) - inked.min(axis=0)
    assert spread.max() < 64 / 3  # one label in a corner, no arrow across the image
    mask[30:36, 30:36] = 2  # edema only: the arrow points at the whole tumour
    with_arrow = burn_annotation(image, mask, np.random.default_rng(1))
    assert (with_arrow > 0.5).sum() > len(inked) + 5


# ----------------------------------------------------------------------------- on disk, CLI


def test_prepare_synthetic_records_the_traps(tmp_path):
    spec = SyntheticSpec(
        per_class=4, test_per_class=2, image_size=32, slices_per_patient=2, confound_marks=0.5
    )
    out = prepare_synthetic(tmp_path / "set", spec)
    meta = pd.read_csv(out / "metadata.csv")
    assert {"marked", "fov_scale", "contrast", "plane"} <= set(meta.columns)
    assert meta.marked.dtype == bool and meta.marked.any()
    assert not meta.marked[meta.class_name == "notumor"].any()
    params = json.loads((out / "dataset.json").read_text())["params"]
    assert params["confound_marks"] == 0.5 and params["confound_fov"] == 0.0
    assert prepare_synthetic(tmp_path / "set", spec) == out  # found again, not rewritten


def test_a_config_switches_the_traps_on(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    traps = tmp_path / "traps.yaml"
    traps.write_text("data:\n  synthetic:\n    confound_marks: 0.5\n    confound_contrast: 1.0\n")
    args = ["--config", str(CONFIGS / "smoke.yaml"), "--config", str(traps)]
    cli = cli_main([*args, "--data.synthetic.confound_fov", "0.25"], run=False)
    spec = cli.datamodule.synthetic
    assert (spec.confound_marks, spec.confound_contrast, spec.confound_fov) == (0.5, 1.0, 0.25)
    assert spec.confound_plane == 0.0
    assert spec.per_class == SyntheticSpec.from_profile("smoke").per_class
