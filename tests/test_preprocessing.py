import numpy as np
import pytest
from phantoms import make_head

from course_lib import preprocessing as P

# --------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("bad", "error", "match"),
    [
        ([[1.0, 2.0]], TypeError, "numpy array"),
        (np.zeros(4), ValueError, "dimensions"),
        (np.zeros((2, 2, 2, 2)), ValueError, "dimensions"),
        (np.zeros((2, 2), bool), TypeError, "real numbers"),
        (np.zeros((2, 2), complex), TypeError, "real numbers"),
        (np.array([["a", "b"]]), TypeError, "real numbers"),
        (np.zeros((0, 3)), ValueError, "empty"),
        (np.array([[1.0, np.nan]]), ValueError, "NaN"),
    ],
)
def test_bad_images_are_rejected(bad, error, match):
    with pytest.raises(error, match=match):
        P.normalize_minmax(bad)


@pytest.mark.parametrize(
    ("mask", "error", "match"),
    [
        ([[True]], TypeError, "numpy array"),
        (np.ones((3, 3), bool), ValueError, "shape"),
        (np.ones((2, 2), np.uint8), TypeError, "bool"),
        (np.zeros((2, 2), bool), ValueError, "no pixel"),
    ],
)
def test_bad_masks_are_rejected(mask, error, match):
    with pytest.raises(error, match=match):
        P.normalize_zscore(np.ones((2, 2)), mask)


# --------------------------------------------------------------------------- skull stripping


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.uint8, np.int16])
def test_strip_skull_recovers_phantom_brain_2d(dtype):
    img, brain = make_head()
    scaled = (img * 200).astype(dtype)
    before = scaled.copy()
    mask = P.strip_skull(scaled, erosion_radius=2, dilation_radius=2)
    assert mask.dtype == bool and mask.shape == img.shape
    assert P.dice(mask, brain) > 0.95
    np.testing.assert_array_equal(scaled, before)


def test_strip_skull_defaults_on_phantom():
    # The default dilation (erosion + 2) takes back a rim the synthetic masks include.
    img, brain = make_head()
    assert P.dice(P.strip_skull(img), brain) > 0.85


def test_strip_skull_recovers_phantom_brain_3d():
    vol, brain = make_head(size=40, depth=40)
    mask = P.strip_skull(vol, smoothing=0, erosion_radius=2, dilation_radius=2)
    assert P.dice(mask, brain) > 0.95


def test_strip_skull_erosion_cuts_skull_bridges():
    # Bright bridges join skull and brain across the dark gap (as dura or vessels do): without
    # the erosion the skull stays attached; with it the brain is cut free.
    img, brain = make_head()
    bridged = img.copy()
    bridged[30:33, :] = np.maximum(bridged[30:33, :], 0.6 * (bridged[30:33, :] < 0.3))
    bridged[:, 0:2] = 0.0
    bridged[:, -2:] = 0.0
    kept = P.strip_skull(bridged, smoothing=0, erosion_radius=0, dilation_radius=0)
    cut = P.strip_skull(bridged, smoothing=0, erosion_radius=2, dilation_radius=2)
    assert P.dice(kept, brain) < 0.9
    assert P.dice(cut, brain) > 0.9


def test_strip_skull_constant_and_empty_give_no_brain():
    assert not P.strip_skull(np.full((8, 8), 3.0)).any()
    img, _ = make_head()
    assert not P.strip_skull(img, threshold=10.0).any()


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"erosion_radius": -1}, ValueError),
        ({"dilation_radius": 1.5}, TypeError),
        ({"smoothing": -1.0}, ValueError),
        ({"smoothing": "1"}, TypeError),
        ({"threshold": "otsu"}, TypeError),
    ],
)
def test_strip_skull_rejects_bad_parameters(kwargs, error):
    with pytest.raises(error, match=next(iter(kwargs))):
        P.strip_skull(make_head()[0], **kwargs)


def test_apply_mask_keeps_dtype_and_input():
    img = np.arange(6, dtype=np.int16).reshape(2, 3)
    mask = np.array([[True, False, True], [False, True, False]])
    out = P.apply_mask(img, mask, fill=-1)
    np.testing.assert_array_equal(out, [[0, -1, 2], [-1, 4, -1]])
    assert out.dtype == np.int16
    np.testing.assert_array_equal(img, np.arange(6).reshape(2, 3))


def test_apply_mask_errors():
    with pytest.raises(TypeError, match="bool"):
        P.apply_mask(np.ones((2, 2)), np.ones((2, 2)))
    with pytest.raises(ValueError, match="shape"):
        P.apply_mask(np.ones((2, 2)), np.ones((2, 3), bool))


def test_dice_values_and_errors():
    a = np.zeros((4, 4), bool)
    a[:2] = True
    b = np.zeros((4, 4), bool)
    b[1:3] = True
    assert P.dice(a, b) == 0.5
    assert P.dice(a, a) == 1.0
    assert P.dice(a, ~a) == 0.0
    with pytest.raises(TypeError, match="bool"):
        P.dice(a.astype(int), b)
    with pytest.raises(ValueError, match="shape"):
        P.dice(a, b[:2])


# --------------------------------------------------------------------------- intensities


@pytest.mark.parametrize("dtype", [np.uint8, np.int32, np.float32, np.float64])
def test_normalize_minmax(dtype, rng):
    img = rng.integers(5, 200, size=(6, 7)).astype(dtype)
    before = img.copy()
    out = P.normalize_minmax(img)
    assert out.dtype == np.float32 and out.shape == img.shape
    assert out.min() == 0.0 and out.max() == 1.0
    np.testing.assert_array_equal(img, before)


def test_normalize_minmax_with_mask_and_constant():
    img = np.array([[0.0, 10.0], [20.0, 100.0]])
    mask = np.array([[False, True], [True, False]])
    np.testing.assert_allclose(P.normalize_minmax(img, mask=mask), [[-1, 0], [1, 9]])
    np.testing.assert_array_equal(P.normalize_minmax(np.full((3, 3), 7)), np.zeros((3, 3)))


def test_clip_percentiles_matches_numpy(rng):
    img = rng.normal(size=(20, 20))
    lo, hi = np.percentile(img, [1, 99])
    np.testing.assert_allclose(P.clip_percentiles(img), np.clip(img, lo, hi), rtol=1e-6)
    mask = img > 0
    lo_m, hi_m = np.percentile(img[mask], [5, 95])
    out = P.clip_percentiles(img, 5, 95, mask=mask)
    np.testing.assert_allclose([out.min(), out.max()], [lo_m, hi_m], rtol=1e-6)


@pytest.mark.parametrize(("low", "high"), [(50, 50), (-1, 99), (1, 101), (90, 10)])
def test_clip_percentiles_rejects_bad_range(low, high):
    with pytest.raises(ValueError, match="low < high"):
        P.clip_percentiles(np.ones((2, 2)), low, high)


def test_clip_percentiles_rejects_non_numbers():
    with pytest.raises(TypeError, match="high must be a number"):
        P.clip_percentiles(np.ones((2, 2)), 1, "99")


def test_structuring_elements_are_scikit_images_disk_and_ball():
    from skimage.morphology import ball, disk

    for radius in range(6):
        np.testing.assert_array_equal(P._ball(radius, 2), disk(radius).astype(bool))
        np.testing.assert_array_equal(P._ball(radius, 3), ball(radius).astype(bool))
    # the Euclidean disk of radius 2: 13 pixels, corners left out
    assert P._ball(2, 2).sum() == 13 and not P._ball(2, 2)[0, 0]


def test_normalize_zscore_uses_mask_statistics():
    img, brain = make_head()
    out = P.normalize_zscore(img, brain)
    assert abs(out[brain].mean()) < 1e-5
    assert abs(out[brain].std() - 1) < 1e-4
    assert out[~brain].min() < -3  # the background is far below brain, measured in brain SDs
    whole = P.normalize_zscore(img)
    assert abs(whole.mean()) < 1e-5


def test_normalize_zscore_matches_reference(rng):
    img = rng.normal(3, 2, size=(9, 11))
    reference = (img - img.mean()) / img.std()
    np.testing.assert_allclose(P.normalize_zscore(img), reference, rtol=1e-5)


def test_normalize_zscore_constant_gives_zeros():
    out = P.normalize_zscore(np.full((4, 4), 5.0))
    np.testing.assert_array_equal(out, np.zeros((4, 4), np.float32))


def _two_sites(n=6, size=32):
    """Site B is a nonlinear, monotone re-mapping of site A's intensities."""
    images, masks, sites = [], [], []
    for i in range(n):
        img, brain = make_head(size, seed=i)
        images += [img, 30 + 200 * img**1.7]
        masks += [brain, brain]
        sites += ["A", "B"]
    return images, masks, sites


def test_histogram_standardization_harmonises_sites():
    images, masks, sites = _two_sites()
    landmarks = P.fit_histogram_standardization(images, masks)
    assert landmarks.values[0] == 0 and landmarks.values[-1] == 100
    assert np.all(np.diff(landmarks.values) > 0)
    standard = [
        P.apply_histogram_standardization(im, landmarks, m)
        for im, m in zip(images, masks, strict=True)
    ]
    before = P.site_histogram_distance(images, sites, masks)
    after = P.site_histogram_distance(standard, sites, masks)
    assert before > 0.9
    assert after < 0.1
    assert standard[0].dtype == np.float32


def test_histogram_standardization_extrapolates_linearly():
    landmarks = P.HistogramLandmarks(np.array([25.0, 75.0]), np.array([0.0, 10.0]))
    img = np.arange(5.0).reshape(1, 5)  # 25th pct = 1, 75th pct = 3
    out = P.apply_histogram_standardization(img, landmarks)
    np.testing.assert_allclose(out, [[-5, 0, 5, 10, 15]])


def test_histogram_standardization_constant_image_maps_to_middle():
    landmarks = P.HistogramLandmarks(np.array([0.0, 50.0, 100.0]), np.array([0.0, 4.0, 10.0]))
    out = P.apply_histogram_standardization(np.full((3, 3), 2.0), landmarks)
    np.testing.assert_array_equal(out, np.full((3, 3), 4.0, np.float32))


def test_histogram_standardization_accepts_stack_and_skips_constant():
    img, _ = make_head(16)
    stack = np.stack([img, np.ones_like(img)])
    landmarks = P.fit_histogram_standardization(stack, percentiles=(0, 100))
    np.testing.assert_allclose(landmarks.values, [0, 100])


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"percentiles": (50,)}, "increasing"),
        ({"percentiles": (10, 5)}, "increasing"),
        ({"percentiles": (-1, 50)}, r"\[0, 100\]"),
        ({"output_range": (1, 1)}, "low < high"),
    ],
)
def test_fit_histogram_standardization_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        P.fit_histogram_standardization([np.eye(3)], **kwargs)


def test_fit_histogram_standardization_rejects_bad_inputs():
    with pytest.raises(ValueError, match="non-empty"):
        P.fit_histogram_standardization([])
    with pytest.raises(ValueError, match="masks"):
        P.fit_histogram_standardization([np.eye(3)], [np.eye(3, dtype=bool)] * 2)
    with pytest.raises(ValueError, match="constant"):
        P.fit_histogram_standardization([np.ones((3, 3))])
    with pytest.raises(TypeError, match="HistogramLandmarks"):
        P.apply_histogram_standardization(np.eye(3), np.arange(3.0))


def test_site_histogram_distance_metrics():
    images, masks, sites = _two_sites(3)
    same = P.site_histogram_distance([images[0]] * 2, ["A", "B"])
    assert same == 0.0
    w = P.site_histogram_distance(images, sites, masks, metric="wasserstein")
    w_scaled = P.site_histogram_distance(
        [10 * im for im in images], sites, masks, metric="wasserstein"
    )
    assert w > 0.5
    assert w_scaled == pytest.approx(w)


def test_site_histogram_distance_errors():
    with pytest.raises(ValueError, match="metric"):
        P.site_histogram_distance([np.eye(3)] * 2, ["a", "b"], metric="l2")
    with pytest.raises(ValueError, match="site labels"):
        P.site_histogram_distance([np.eye(3)] * 2, ["a"])
    with pytest.raises(ValueError, match="two sites"):
        P.site_histogram_distance([np.eye(3)] * 2, ["a", "a"])


# --------------------------------------------------------------------------- bias field


def test_simulate_bias_field_is_the_synthetic_engines():
    from course_lib import synthetic

    assert P.simulate_bias_field is synthetic.simulate_bias_field


def test_apply_bias_field_and_errors():
    out = P.apply_bias_field(np.full((2, 2), 3, np.uint8), np.full((2, 2), 0.5))
    np.testing.assert_array_equal(out, np.full((2, 2), 1.5, np.float32))
    with pytest.raises(ValueError, match="shape"):
        P.apply_bias_field(np.ones((2, 2)), np.ones((2, 3)))
    with pytest.raises(ValueError, match="positive"):
        P.apply_bias_field(np.ones((2, 2)), np.zeros((2, 2)))


def test_correct_bias_field_reduces_cv_and_finds_field():
    img, brain = make_head(64)
    field = P.simulate_bias_field(img.shape, strength=0.4, seed=1)
    biased = P.apply_bias_field(img, field)
    before = biased.copy()
    corrected, estimated = P.correct_bias_field(biased, brain)
    assert corrected.shape == img.shape and corrected.dtype == np.float32
    assert estimated.min() > 0
    np.testing.assert_allclose(corrected * estimated, biased, rtol=1e-4, atol=1e-6)
    cv_before = P.coefficient_of_variation(biased, brain)
    assert P.coefficient_of_variation(corrected, brain) < 0.7 * cv_before
    assert P.field_correlation(estimated, field, brain) > 0.5
    np.testing.assert_array_equal(biased, before)
    # Without a mask N4 fits on an Otsu head mask and still helps.
    unmasked, _ = P.correct_bias_field(biased, iterations=(20, 20))
    assert P.coefficient_of_variation(unmasked, brain) < cv_before


def test_correct_bias_field_constant_image_is_unchanged():
    corrected, field = P.correct_bias_field(np.full((8, 8), 4, np.uint8))
    np.testing.assert_array_equal(corrected, np.full((8, 8), 4.0, np.float32))
    np.testing.assert_array_equal(field, np.ones((8, 8), np.float32))


def test_correct_bias_field_3d_runs():
    vol, brain = make_head(size=24, depth=12)
    field = P.simulate_bias_field(vol.shape, strength=0.3, seed=2)
    corrected, estimated = P.correct_bias_field(vol * field, brain, iterations=(10,))
    assert corrected.shape == vol.shape == estimated.shape


@pytest.mark.parametrize(
    ("image", "kwargs", "match"),
    [
        (-np.ones((8, 8)), {}, "non-negative"),
        (np.ones((8, 8)), {"shrink_factor": 0}, "shrink_factor"),
        (np.ones((8, 8)), {"iterations": ()}, "iterations"),
        (np.ones((8, 8)), {"iterations": (10, 0)}, "iterations"),
        (np.ones((8, 8)), {"control_points": 3}, "control_points"),
    ],
)
def test_correct_bias_field_errors(image, kwargs, match):
    with pytest.raises(ValueError, match=match):
        P.correct_bias_field(image, **kwargs)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"shrink_factor": 2.0}, "shrink_factor must be an int"),
        ({"iterations": (10, 5.5)}, r"iterations\[1\] must be an int"),
        ({"control_points": 4.0}, "control_points must be an int"),
        ({"convergence_threshold": "1e-3"}, "convergence_threshold must be a number"),
    ],
)
def test_correct_bias_field_rejects_wrong_kinds(kwargs, match):
    with pytest.raises(TypeError, match=match):
        P.correct_bias_field(np.ones((8, 8)), **kwargs)


def test_check_image_is_public_and_copies():
    image = np.arange(4, dtype=np.uint8).reshape(2, 2)
    out = P.check_image(image, "slice", ndims=(2,))
    assert out.dtype == np.float64 and out is not image
    np.testing.assert_array_equal(out, image)
    with pytest.raises(ValueError, match="slice must have 2 dimensions"):
        P.check_image(np.zeros((2, 2, 2)), "slice", ndims=(2,))


def test_coefficient_of_variation_errors():
    with pytest.raises(TypeError, match="mask is required"):
        P.coefficient_of_variation(np.ones((2, 2)), None)
    with pytest.raises(ValueError, match="positive"):
        P.coefficient_of_variation(-np.ones((2, 2)), np.ones((2, 2), bool))


def test_field_correlation_values_and_errors():
    x = P.simulate_bias_field((16, 16), seed=0)
    assert P.field_correlation(x, x) == pytest.approx(1.0)
    assert P.field_correlation(x, 1 / x) == pytest.approx(-1.0)
    assert P.field_correlation(x, np.ones((16, 16))) == 0.0
    with pytest.raises(ValueError, match="shape"):
        P.field_correlation(x, x[:8])
    with pytest.raises(ValueError, match="positive"):
        P.field_correlation(x, x - 5)
