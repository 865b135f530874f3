from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from course_lib.anatomy import TUMOR_LABELS, tumor_core
from course_lib.config import CLASS_NAMES
from course_lib.synthetic import (
    CONTRASTS,
    VOLUME_HALF_DEPTH,
    SyntheticSlices,
    generate_slices,
    generate_volume,
)


@pytest.fixture(scope="module")
def small() -> SyntheticSlices:
    return generate_slices(8, image_size=48, slices_per_patient=4, sites=3, seed=0)


@pytest.fixture(scope="module")
def volume() -> dict:
    return generate_volume("glioma", shape=(6, 48, 48), seed=2)


# ----------------------------------------------------------------------------- generate_slices


def test_shapes_dtypes_and_ranges(small):
    n = 8 * len(CLASS_NAMES)
    assert len(small) == n
    assert small.images.shape == (n, 48, 48)
    assert small.images.dtype == np.float32
    assert small.brain_masks.dtype == np.bool_
    assert small.tumor_masks.dtype == np.uint8
    assert small.bias_fields.dtype == np.float32
    assert small.brain_masks.shape == small.tumor_masks.shape == small.bias_fields.shape
    assert small.images.min() >= 0.0
    assert small.images.max() <= 1.0
    assert set(np.unique(small.tumor_masks)) <= set(TUMOR_LABELS.values())
    expected = {"label", "class_name", "patient_id", "site", "contrast", "slice_index"}
    assert expected | {"duplicate_of"} <= set(small.metadata.columns)
    assert len(small.metadata) == n


def test_labels_follow_class_names(small):
    meta = small.metadata
    assert list(meta.groupby("label")["class_name"].first()) == list(CLASS_NAMES)
    assert (meta["duplicate_of"] == -1).all()


def test_same_seed_same_data_other_seed_differs():
    a = generate_slices(2, image_size=32, slices_per_patient=2, seed=5)
    b = generate_slices(2, image_size=32, slices_per_patient=2, seed=5)
    c = generate_slices(2, image_size=32, slices_per_patient=2, seed=6)
    np.testing.assert_array_equal(a.images, b.images)
    np.testing.assert_array_equal(a.tumor_masks, b.tumor_masks)
    pd.testing.assert_frame_equal(a.metadata, b.metadata)
    assert np.abs(a.images - c.images).mean() > 0.01


def test_patient_does_not_depend_on_other_classes():
    full = generate_slices(2, image_size=32, slices_per_patient=2, seed=3)
    only = generate_slices({"pituitary": 2}, image_size=32, slices_per_patient=2, seed=3)
    np.testing.assert_array_equal(full.images[full.metadata.class_name == "pituitary"], only.images)


def test_notumor_masks_empty_and_tumours_present(small):
    meta = small.metadata
    tumor_pixels = tumor_core(small.tumor_masks).sum(axis=(1, 2))
    assert (tumor_pixels[meta.class_name == "notumor"] == 0).all()
    for name in ("glioma", "meningioma", "pituitary"):
        present = tumor_pixels[meta.class_name == name] > 0
        assert present.mean() >= 0.75, name
    np.testing.assert_array_equal(meta["tumor_pixels"], tumor_pixels)


def test_tumours_inside_or_next_to_the_brain(small):
    from scipy import ndimage

    meta = small.metadata
    for i in np.flatnonzero(small.tumor_masks.any(axis=(1, 2))):
        tumor = tumor_core(small.tumor_masks[i])
        brain = small.brain_masks[i]
        # the brain mask (the intracranial space) holds the whole tumour and its edema
        assert not (small.tumor_masks[i] > 0)[~brain].any()
        if meta.class_name[i] == "meningioma":  # extra-axial: on the brain's outer border
            outer = brain & ~ndimage.binary_erosion(brain, iterations=3)
            assert (tumor & outer).any()
        elif meta.class_name[i] == "pituitary":  # below the brain's centre, close to the midline
            rows, cols = np.nonzero(tumor)
            brain_rows = np.nonzero(brain)[0]
            assert rows.mean() > brain_rows.mean()
            assert abs(cols.mean() - tumor.shape[1] / 2) < tumor.shape[1] / 6


def test_glioma_has_edema():
    data = generate_slices({"glioma": 8}, image_size=48, seed=1)
    assert (data.tumor_masks == 2).any(axis=(1, 2)).mean() >= 0.5


def test_tumour_sub_regions_as_in_brats():
    """Gliomas: an enhancing part, a necrotic or non-enhancing core, edema; the others enhance."""
    data = generate_slices({"glioma": 12, "meningioma": 4, "pituitary": 4}, image_size=64, seed=2)
    meta, masks = data.metadata, data.tumor_masks
    glioma = masks[meta.class_name == "glioma"]
    per_slice = {v: (glioma == v).any(axis=(1, 2)) for v in (1, 2, 3)}
    assert per_slice[3].mean() >= 0.5 and per_slice[1].mean() >= 0.5 and per_slice[2].mean() >= 0.5
    # heterogeneous: in some slices both enhancing and non-enhancing tumour
    assert (per_slice[1] & per_slice[3]).any()
    # the enhancing tumour is brighter on T1-CE than the core beside it
    images = data.images[meta.class_name == "glioma"]
    both = per_slice[1] & per_slice[3]
    brighter = [
        images[i][glioma[i] == 3].mean() > images[i][glioma[i] == 1].mean()
        for i in np.flatnonzero(both)
    ]
    assert np.mean(brighter) >= 0.8
    others = masks[meta.class_name != "glioma"]
    others = others[others.any(axis=(1, 2))]
    assert len(others) > 0
    assert not (others == 1).any() and (others == 3).any(axis=(1, 2)).all()


def test_imbalance_through_mapping():
    data = generate_slices({"glioma": 5, "notumor": 2}, image_size=32, slices_per_patient=2)
    counts = data.metadata.class_name.value_counts().to_dict()
    assert counts == {"glioma": 5, "notumor": 2}
    # 5 slices with 2 per patient: 3 patients, the last one with a single slice
    assert data.metadata[data.metadata.class_name == "glioma"].patient_id.nunique() == 3


def test_patients_group_slices_and_sites(small):
    meta = small.metadata
    per_patient = meta.groupby("patient_id")
    assert (per_patient.size() == 4).all()
    assert (per_patient["site"].nunique() == 1).all()
    assert (per_patient["label"].nunique() == 1).all()
    assert sorted(per_patient["slice_index"].apply(tuple).unique()) == [(0, 1, 2, 3)]
    assert set(meta.site) == {"site_A", "site_B", "site_C"}
    # neighbouring slices of one head are closer than slices of different patients
    same = np.abs(small.images[0] - small.images[1]).mean()
    other = np.abs(small.images[0] - small.images[4]).mean()
    assert same < other


def test_duplicates_injected():
    data = generate_slices(4, image_size=32, slices_per_patient=2, duplicates=0.25, seed=1)
    meta = data.metadata
    assert len(data) == 16 + 4
    dups = meta[meta.duplicate_of >= 0]
    assert len(dups) == 4
    for row, src in zip(dups.index, dups.duplicate_of, strict=True):
        assert meta.patient_id[row] == f"D{src:04d}" != meta.patient_id[src]
        assert meta.label[row] == meta.label[src]
        assert not np.array_equal(data.images[row], data.images[src])
        similarity = np.corrcoef(data.images[row].ravel(), data.images[src].ravel())[0, 1]
        assert similarity > 0.8


def test_near_duplicates_are_found_by_perceptual_hashing():
    from course_lib.datasets import find_duplicates

    data = generate_slices(3, image_size=64, slices_per_patient=1, duplicates=0.25, seed=2)
    images = np.round(data.images * 255).astype(np.uint8)
    pairs = find_duplicates(images)
    found = {tuple(sorted(pair)) for pair in zip(pairs.iloc[:, 0], pairs.iloc[:, 1], strict=True)}
    truth = data.metadata.duplicate_of
    expected = {tuple(sorted((row, src))) for row, src in truth[truth >= 0].items()}
    assert expected <= found


def test_contrast_sequence_is_cycled():
    data = generate_slices(4, image_size=32, slices_per_patient=2, contrast=("T1", "T2"))
    assert set(data.metadata.contrast) == {"T1", "T2"}
    assert (data.metadata.groupby("patient_id").contrast.nunique() == 1).all()


def test_sites_by_name():
    data = generate_slices(2, image_size=32, slices_per_patient=1, sites=["site_C"])
    assert set(data.metadata.site) == {"site_C"}


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"per_class": -1}, ValueError),
        ({"per_class": 0}, ValueError),
        ({"per_class": 2.5}, TypeError),
        ({"per_class": {"astrocytoma": 3}}, ValueError),
        ({"image_size": 8}, ValueError),
        ({"image_size": 32.0}, TypeError),
        ({"slices_per_patient": 0}, ValueError),
        ({"sites": 0}, ValueError),
        ({"sites": 9}, ValueError),
        ({"sites": ["site_Z"]}, ValueError),
        ({"sites": "site_A"}, TypeError),
        ({"sites": True}, TypeError),
        ({"contrast": "DWI"}, ValueError),
        ({"contrast": []}, ValueError),
        ({"difficulty": -0.5}, ValueError),
        ({"difficulty": "hard"}, TypeError),
        ({"duplicates": 1.5}, ValueError),
        ({"randomize": 1.5}, ValueError),
        ({"plane": "oblique"}, ValueError),
        ({"plane": []}, ValueError),
        ({"plane": 3}, TypeError),
        ({"randomize": "wild"}, TypeError),
        ({"seed": -1}, ValueError),
        ({"seed": 1.0}, TypeError),
    ],
)
def test_generate_slices_rejects_bad_arguments(kwargs, error):
    args = {"per_class": 1, "image_size": 32, **kwargs}
    with pytest.raises(error):
        generate_slices(**args)


def test_randomize_zero_is_the_physics_set_and_one_randomises_every_patient():
    plain = generate_slices(2, image_size=48, slices_per_patient=1, seed=3)
    same = generate_slices(2, image_size=48, slices_per_patient=1, seed=3, randomize=0.0)
    np.testing.assert_array_equal(plain.images, same.images)
    wild = generate_slices(12, image_size=48, slices_per_patient=1, seed=3, randomize=1.0)
    # the labels, the patients and the kind of tumour stay; the contrast does not: the order of
    # CSF and white matter (ventricles dark on T1CE) flips between randomised patients
    assert list(wild.metadata.class_name) == sorted(wild.metadata.class_name)
    assert (wild.tumor_masks[wild.metadata.class_name != "notumor"] > 0).any(axis=(1, 2)).all()
    csf_brighter = []
    for image, brain, tumor in zip(wild.images, wild.brain_masks, wild.tumor_masks, strict=True):
        inside = image[brain & (tumor == 0)]
        low, high = np.percentile(inside, [5, 95])
        csf_brighter.append(high - np.median(inside) > np.median(inside) - low)
    assert 0 < sum(csf_brighter) < len(csf_brighter)
    assert np.isfinite(wild.images).all() and wild.images.min() >= 0 and wild.images.max() <= 1


def test_every_plane_cuts_through_the_tumour_and_a_plane_mix_cycles_over_patients():
    planes = ("coronal", "axial", "sagittal")
    data = generate_slices(6, image_size=64, slices_per_patient=2, plane=planes, seed=2)
    meta = data.metadata
    assert set(meta.plane) == set(planes)
    assert (meta.groupby("patient_id").plane.nunique() == 1).all()
    has_tumor = data.tumor_masks.any(axis=(1, 2))
    assert has_tumor[meta.class_name != "notumor"].all()
    assert not has_tumor[meta.class_name == "notumor"].any()
    share = data.brain_masks.mean(axis=(1, 2))
    # a head, not a sliver or the frame (a lateral sagittal cut through a convexity meningioma
    # shows the least brain)
    assert (share > 0.1).all() and (share < 0.8).all()
    # axial and sagittal heads are longer front to back than a coronal one is wide
    for plane, longer_axis in (("axial", 0), ("sagittal", 1)):
        brain = data.brain_masks[(meta.plane == plane).to_numpy()][0]
        extent = [np.ptp(np.nonzero(brain.any(axis=1 - a))[0]) for a in (0, 1)]
        assert extent[longer_axis] > extent[1 - longer_axis]


def test_t1_and_t2_contrast_inverted_in_acquired_volume():
    vol = generate_volume("notumor", shape=(3, 64, 64), contrasts=("T1", "T2", "T1CE"), seed=4)
    brain = vol["brain_mask"]
    t1, t2, t1ce = (vol["images"][c][brain] for c in ("T1", "T2", "T1CE"))
    assert np.corrcoef(t1, t2)[0, 1] < -0.3
    assert np.corrcoef(t1, t1ce)[0, 1] > 0.8


# ----------------------------------------------------------------------------- volumes


def test_volume_shapes_and_contrasts(volume):
    assert sorted(volume["images"]) == sorted(CONTRASTS)
    for image in volume["images"].values():
        assert image.shape == (6, 48, 48)
        assert image.dtype == np.float32
        assert 0 <= image.min() and image.max() <= 1
    assert volume["brain_mask"].dtype == np.bool_
    assert volume["tumor_mask"].dtype == np.uint8
    assert volume["bias_field"].shape == (6, 48, 48)
    # the tumour grows then shrinks along the volume's depth
    area = tumor_core(volume["tumor_mask"]).sum(axis=(1, 2))
    assert area.max() > 0
    assert area[0] < area.max() and area[-1] < area.max()


def test_volume_contrasts_share_anatomy(volume):
    t1, t2 = volume["images"]["T1"], volume["images"]["T2"]
    assert not np.allclose(t1, t2)
    brain = volume["brain_mask"]
    assert brain.any() and not brain.all()


def test_bias_field_about_one_in_brain(small):
    for field, brain in zip(small.bias_fields[:8], small.brain_masks[:8], strict=True):
        assert field.min() > 0
        assert abs(float(field[brain].mean()) - 1.0) < 0.1


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"class_name": "cyst"}, ValueError),
        ({"shape": (4, 32)}, ValueError),
        ({"shape": (1, 32, 32)}, ValueError),
        ({"contrasts": ("T1", "SWI")}, ValueError),
        ({"site": "site_X"}, ValueError),
        ({"difficulty": 5.0}, ValueError),
        ({"seed": "a"}, TypeError),
    ],
)
def test_generate_volume_rejects_bad_arguments(kwargs, error):
    args = {"class_name": "glioma", "shape": (2, 32, 32), **kwargs}
    with pytest.raises(error):
        generate_volume(**args)


def test_sites_differ_in_acquisition():
    data = generate_slices(
        {"notumor": 12}, image_size=48, slices_per_patient=1, sites=["site_A", "site_B"], seed=0
    )
    meta = data.metadata
    background = data.images[:, :4, :4].mean(axis=(1, 2))
    # site_B is noisier and brighter in the background than site_A
    assert background[meta.site == "site_B"].mean() > background[meta.site == "site_A"].mean()


def test_volume_holds_the_whole_head():
    vol = generate_volume("notumor", shape=(24, 48, 48), contrasts=("T1",), seed=1)
    dz, dy, dx = vol["spacing"]
    assert dz == pytest.approx(2 * VOLUME_HALF_DEPTH / 23) and dy == dx == pytest.approx(2 / 47)
    brain_per_slice = vol["brain_mask"].sum(axis=(1, 2))
    # the brain starts and ends inside the volume: nothing of it is cut off front or back
    assert brain_per_slice[0] == 0 and brain_per_slice[-1] == 0
    assert (brain_per_slice > 0).mean() > 0.6
    # and the head (anything brighter than air) reaches further than the brain at the front
    head_per_slice = (vol["images"]["T1"] > 0.2).sum(axis=(1, 2))
    assert np.flatnonzero(head_per_slice > 20)[0] < np.flatnonzero(brain_per_slice > 0)[0]


def test_site_contrast_and_plane_are_not_tied_together():
    data = generate_slices(
        18,
        image_size=32,
        slices_per_patient=1,
        sites=3,
        contrast=("T1CE", "T2", "FLAIR"),
        plane=("axial", "coronal", "sagittal"),
        seed=3,
    )
    meta = data.metadata
    for a, b in (("site", "plane"), ("site", "contrast"), ("contrast", "plane")):
        table = pd.crosstab(meta[a], meta[b])
        assert table.shape == (3, 3) and (table > 0).all().all(), (a, b)
    # each class: sites in turn, and two full rounds of the nine contrast-plane pairs
    for _, group in meta.groupby("class_name"):
        assert (group["site"].value_counts() == 6).all()
        assert (group.groupby(["contrast", "plane"]).size() == 2).all()
