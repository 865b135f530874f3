"""course_lib.acquisition: contrasts, tissue intensities, bias field, noise, ghosting, sites."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from course_lib import anatomy
from course_lib.acquisition import (
    CONTRASTS,
    SITE_PROFILES,
    add_motion_ghosting,
    add_rician_noise,
    contrast_names,
    random_site,
    random_tissue_intensities,
    render_contrast,
    simulate_bias_field,
    site_names,
    tissue_intensities,
)


@pytest.mark.parametrize("contrast", CONTRASTS)
def test_rendered_tissue_order(contrast):
    """Render a head without acquisition; compare the ventricles' CSF with the white matter."""
    anat = anatomy.sample_anatomy(np.random.default_rng(0))
    grid = anatomy.PixelGrid(96, 96, anat["pose"])
    layers, brain, tumor, _ = anatomy.head_layers(anat, np.array([0.0]), grid)
    image = render_contrast(layers, contrast)
    names = [layer[0] for layer in layers]
    wm_index = names.index("wm")
    wm = image[layers[wm_index][1] > 0.99].mean()
    # the lateral ventricles: the first CSF layer painted after the white matter that is there
    # (the cistern around the brainstem lies behind this coronal slice)
    _, ventricle, (rows, cols) = next(
        layer for layer in layers[wm_index:] if layer[0] == "csf" and (layer[1] > 0.99).any()
    )
    csf = image[:, rows, cols][ventricle > 0.99].mean()
    if contrast == "T2":
        assert csf > wm + 0.3
    else:  # T1, T1CE; FLAIR suppresses the CSF signal
        assert csf < wm - 0.2
    assert not tumor.any()
    assert brain[0, 48, 48]


def test_tissue_intensities_site_contrast():
    plain = tissue_intensities("T1")
    squeezed = tissue_intensities("T1", replace(SITE_PROFILES["site_A"], tissue_contrast=0.8))
    assert abs(squeezed["wm"] - squeezed["gm"]) < abs(plain["wm"] - plain["gm"])
    assert squeezed["fat"] == plain["fat"]
    with pytest.raises(ValueError, match="contrast"):
        tissue_intensities("PD")


def test_render_contrast_errors():
    alpha = np.ones((2, 2), np.float32)
    with pytest.raises(ValueError, match="layers"):
        render_contrast([], "T1")
    with pytest.raises(ValueError, match="tissue"):
        render_contrast([("bone", alpha), ("titanium", alpha)], "T1")


def test_render_contrast_box_layer():
    base = np.ones((1, 4, 4), np.float32)
    patch = np.ones((1, 2, 2), np.float32)
    image = render_contrast([("wm", base), ("csf", patch, (slice(0, 2), slice(1, 3)))], "T2")
    assert image[0, 0, 1] == pytest.approx(tissue_intensities("T2")["csf"])
    assert image[0, 3, 3] == pytest.approx(tissue_intensities("T2")["wm"])


@pytest.mark.parametrize("shape", [(32, 40), (3, 16, 16)])
def test_simulate_bias_field(shape):
    field = simulate_bias_field(shape, strength=0.4, seed=1)
    assert field.shape == shape
    assert field.dtype == np.float32
    assert field.min() > 0
    assert float(field.mean()) == pytest.approx(1.0, abs=1e-4)
    assert field.std() > 0.05
    np.testing.assert_array_equal(field, simulate_bias_field(shape, strength=0.4, seed=1))
    flat = simulate_bias_field(shape, strength=0.0)
    np.testing.assert_allclose(flat, 1.0, atol=1e-6)


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"shape": (8,)}, ValueError),
        ({"shape": (1, 8)}, ValueError),
        ({"strength": -1.0}, ValueError),
        ({"seed": None}, TypeError),
    ],
)
def test_simulate_bias_field_errors(kwargs, error):
    args = {"shape": (8, 8), **kwargs}
    with pytest.raises(error):
        simulate_bias_field(**args)


def test_add_rician_noise():
    image = np.full((64, 64), 0.5, np.float64)
    before = image.copy()
    noisy = add_rician_noise(image, 0.05, seed=0)
    np.testing.assert_array_equal(image, before)
    assert noisy.dtype == np.float32
    assert noisy.std() == pytest.approx(0.05, rel=0.15)
    background = add_rician_noise(np.zeros((64, 64)), 0.1, seed=0)
    # Rayleigh mean sigma * sqrt(pi / 2): the noise floor is positive, unlike Gaussian noise
    assert background.mean() == pytest.approx(0.1 * np.sqrt(np.pi / 2), rel=0.05)
    np.testing.assert_array_equal(add_rician_noise(image, 0.0), image.astype(np.float32))
    with pytest.raises(ValueError, match="sigma"):
        add_rician_noise(image, -0.1)
    with pytest.raises(TypeError, match="image"):
        add_rician_noise(np.array(["a"]), 0.1)


def test_add_motion_ghosting():
    image = np.zeros((2, 8, 8), np.float32)
    image[:, 1, 1] = 1.0
    ghosted = add_motion_ghosting(image, 0.2)
    assert ghosted[0, 3, 1] == pytest.approx(0.2)
    assert ghosted[0, 7, 1] == pytest.approx(0.2)
    assert image[0, 3, 1] == 0.0
    with pytest.raises(ValueError, match="image"):
        add_motion_ghosting(np.zeros(8), 0.1)
    with pytest.raises(ValueError, match="strength"):
        add_motion_ghosting(image, -1.0)


def test_site_names():
    assert site_names(["site_B"]) == ("site_B",)
    with pytest.raises(ValueError, match="sites"):
        site_names([])
    with pytest.raises(TypeError):
        site_names(2.0)


def test_contrast_names():
    assert contrast_names("T2") == ("T2",)
    assert contrast_names(("T1", "FLAIR")) == ("T1", "FLAIR")
    with pytest.raises(ValueError, match="contrast"):
        contrast_names(["T1", "DWI"])
    with pytest.raises(ValueError, match="contrast"):
        contrast_names([])
    with pytest.raises(TypeError, match="contrast"):
        contrast_names(3)


def test_random_tissue_intensities_span_from_the_table_to_random():
    rng = np.random.default_rng(0)
    assert random_tissue_intensities(rng, 0.0, contrast="T2") == tissue_intensities("T2")
    draws = [random_tissue_intensities(np.random.default_rng(s)) for s in range(40)]
    csf_over_wm = [d["csf"] > d["wm"] for d in draws]
    assert 5 < sum(csf_over_wm) < 35  # either order, as on T1 and on T2
    for d in draws:
        assert d["air"] == 0.0 and all(0.0 <= v <= 1.0 for v in d.values())
        brain = 0.5 * (d["gm"] + d["wm"])
        for lesion in ("tumor", "enhancing", "meningioma", "adenoma", "edema"):
            assert abs(d[lesion] - brain) >= 0.12 - 1e-9
    with pytest.raises(ValueError, match="strength"):
        random_tissue_intensities(rng, 1.5)
    with pytest.raises(ValueError, match="contrast"):
        random_tissue_intensities(rng, contrast="DWI")


def test_random_site_moves_from_its_start_to_a_drawn_scanner():
    start = SITE_PROFILES["site_B"]
    assert random_site(np.random.default_rng(0), 0.0, around=start) == start
    sites = [random_site(np.random.default_rng(s)) for s in range(30)]
    blurs = [s.blur for s in sites]
    assert min(blurs) < 0.5 and max(blurs) > 1.5
    assert all(s.tissue_contrast == 1.0 and s.noise > 0 for s in sites)
    with pytest.raises(ValueError, match="strength"):
        random_site(np.random.default_rng(0), -0.1)


def test_render_contrast_paints_given_values():
    ones = np.ones((1, 2), np.float32)
    image = render_contrast([("wm", ones)], "T1", values={"wm": 0.25})
    assert image.tolist() == [[0.25, 0.25]]
