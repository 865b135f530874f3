"""Image registration with SimpleITK: align a moving image onto a fixed one.

Images are numpy arrays ``(H, W)`` or ``(D, H, W)`` (slice axis first, as SimpleITK's
``GetArrayFromImage`` gives them) with unit pixel spacing. The similarity metric is Mattes mutual
information, which works across contrasts (a T2 onto a T1) because it only asks that intensities
be *predictable* from each other, not equal. Measure success with
:func:`course_lib.preprocessing.dice` on brain masks before and after.
"""

from __future__ import annotations

import numpy as np
import SimpleITK as sitk

from course_lib._validation import check_choice, check_int, check_interval, check_type
from course_lib.preprocessing import check_image

__all__ = ["TRANSFORMS", "apply_transform", "register"]

#: Transform models :func:`register` accepts: ``rigid`` (rotation + translation), ``similarity``
#: (rigid + one isotropic scale) and ``affine`` (rigid + anisotropic scale and shear).
TRANSFORMS: tuple[str, ...] = ("rigid", "similarity", "affine")

_INTERPOLATIONS = ("linear", "nearest", "bspline")


def _to_sitk(array: np.ndarray):
    return sitk.GetImageFromArray(array.astype(np.float32))


def _interpolator(name: str):
    check_choice("interpolation", name, _INTERPOLATIONS)
    return {
        "linear": sitk.sitkLinear,
        "nearest": sitk.sitkNearestNeighbor,
        "bspline": sitk.sitkBSpline,
    }[name]


def register(
    moving: np.ndarray,
    fixed: np.ndarray,
    *,
    transform: str = "rigid",
    iterations: int = 300,
    bins: int = 32,
    sampling_fraction: float = 0.25,
    shrink_factors: tuple[int, ...] = (2, 1),
    seed: int = 0,
    threads: int | None = 1,
):
    """Register ``moving`` onto ``fixed`` by maximising Mattes mutual information.

    A multi-resolution (``shrink_factors``) regular-step gradient descent optimises the chosen
    transform, initialised by aligning the images' centres of mass.

    Check the result (e.g. brain-mask Dice): on thin 3D slabs, where out-of-plane motion moves
    anatomy out of the field of view, the optimiser can diverge (see
    ``benchmarks/preprocessing.py``), while 2D slices register reliably there.

    Args:
        moving: ``(H, W)`` or ``(D, H, W)`` image to move, any real dtype.
        fixed: Image of the same dimensionality (shapes may differ) that stays put.
        transform: One of :data:`TRANSFORMS`.
        iterations: Optimiser iterations per resolution level.
        bins: Histogram bins of the mutual-information metric.
        sampling_fraction: Fraction of pixels sampled (randomly, with ``seed``) per iteration.
        shrink_factors: Downsampling per level, coarse to fine; smoothing sigmas follow them.
        seed: Seed of the metric's pixel sampling (a non-negative int).
        threads: Worker threads of the registration; ``1`` (default) keeps runs with the same
            seed repeatable up to floating-point rounding; ``None`` uses all cores (faster for
            3D, but multithreaded sums vary more between runs).

    Returns:
        ``(registered, tx)``: ``registered`` is ``moving`` resampled onto ``fixed``'s grid
        (``float32``, ``fixed``'s shape, linear interpolation, zeros outside); ``tx`` the fitted
        ``SimpleITK.Transform`` (maps fixed-space points to moving space), reusable with
        :func:`apply_transform` to move masks.

    Raises:
        TypeError: If an image is not a real numpy array, ``iterations``, ``bins``, ``seed``,
            ``threads`` or a shrink factor is not an int, or ``sampling_fraction`` not a number.
        ValueError: If dimensions differ, an image is constant, the transform is unknown or
            parameters are out of range (``seed < 0``, say).
    """
    mov = check_image(moving, "moving")
    fix = check_image(fixed, "fixed")
    if mov.ndim != fix.ndim:
        raise ValueError(f"moving is {mov.ndim}D but fixed is {fix.ndim}D; they must match")
    for name, data in (("moving", mov), ("fixed", fix)):
        if data.min() == data.max():
            raise ValueError(f"{name} is constant ({data.min():g}); there is nothing to align")
    check_choice("transform", transform, TRANSFORMS)
    sampling_fraction = check_interval("sampling_fraction", sampling_fraction, 0, 1, closed="right")
    iterations = check_int("iterations", iterations, minimum=1)
    bins = check_int("bins", bins, minimum=2)
    shrink_factors = [
        check_int(f"shrink_factors[{k}]", s, minimum=1) for k, s in enumerate(shrink_factors)
    ]
    if not shrink_factors:
        raise ValueError("shrink_factors must hold one int >= 1 per resolution level, got none")
    seed = check_int("seed", seed, minimum=0)
    if threads is not None:
        threads = check_int("threads", threads, minimum=1)
    dim = fix.ndim
    fixed_img, moving_img = _to_sitk(fix), _to_sitk(mov)
    model = {
        ("rigid", 2): sitk.Euler2DTransform,
        ("rigid", 3): sitk.Euler3DTransform,
        ("similarity", 2): sitk.Similarity2DTransform,
        ("similarity", 3): sitk.Similarity3DTransform,
        ("affine", 2): lambda: sitk.AffineTransform(2),
        ("affine", 3): lambda: sitk.AffineTransform(3),
    }[(transform, dim)]()
    initial = sitk.CenteredTransformInitializer(
        fixed_img, moving_img, model, sitk.CenteredTransformInitializerFilter.MOMENTS
    )
    method = sitk.ImageRegistrationMethod()
    method.SetMetricAsMattesMutualInformation(numberOfHistogramBins=bins)
    method.SetMetricSamplingStrategy(method.RANDOM)
    # SimpleITK reads a seed of 0 as "seed from the wall clock": shift ours by one.
    method.SetMetricSamplingPercentage(sampling_fraction, seed + 1)
    method.SetInterpolator(sitk.sitkLinear)
    method.SetOptimizerAsRegularStepGradientDescent(
        learningRate=1.0,
        minStep=1e-4,
        numberOfIterations=iterations,
        relaxationFactor=0.5,
        gradientMagnitudeTolerance=1e-8,
    )
    method.SetOptimizerScalesFromPhysicalShift()
    method.SetShrinkFactorsPerLevel(shrink_factors)
    method.SetSmoothingSigmasPerLevel([max(s - 1, 0) / 2 for s in shrink_factors])
    method.SmoothingSigmasAreSpecifiedInPhysicalUnitsOff()
    method.SetInitialTransform(initial, inPlace=False)
    if threads is not None:
        method.SetNumberOfThreads(threads)
    fitted = method.Execute(fixed_img, moving_img)
    return apply_transform(mov, fitted, fix), fitted


def apply_transform(
    image: np.ndarray, transform, reference: np.ndarray, *, interpolation: str = "linear"
) -> np.ndarray:
    """Resample ``image`` onto ``reference``'s grid through a SimpleITK transform.

    Use ``interpolation="nearest"`` for masks and label maps so no new labels appear.

    Args:
        image: ``(H, W)`` or ``(D, H, W)`` array; ``bool`` masks are accepted.
        transform: A ``SimpleITK.Transform`` (e.g. the second result of :func:`register`).
        reference: Array whose shape defines the output grid (same dimensionality).
        interpolation: ``"linear"``, ``"nearest"`` or ``"bspline"``.

    Returns:
        Array of ``reference``'s shape: ``bool`` for a ``bool`` input (nearest neighbour is
        then forced), else ``float32``. Pixels mapped from outside ``image`` are 0.

    Raises:
        TypeError: If ``transform`` is not a ``SimpleITK.Transform``.
        ValueError: If dimensions disagree or ``interpolation`` is unknown.

    >>> m = np.zeros((5, 5), bool); m[1, 1] = True
    >>> shift = sitk.TranslationTransform(2, (-1.0, -1.0))  # output(x) = input(x - 1)
    >>> np.argwhere(apply_transform(m, shift, m)).tolist()
    [[2, 2]]
    """
    check_type("transform", transform, sitk.Transform, "a SimpleITK.Transform")
    is_mask = isinstance(image, np.ndarray) and image.dtype == bool
    data = check_image(image.astype(np.uint8) if is_mask else image)
    check_type("reference", reference, np.ndarray, "a numpy array")
    ref = np.zeros(reference.shape, np.float32)  # only its grid (shape) is used
    if data.ndim != ref.ndim or transform.GetDimension() != ref.ndim:
        raise ValueError(
            f"image is {data.ndim}D, reference {ref.ndim}D and transform "
            f"{transform.GetDimension()}D; they must match"
        )
    interp = _interpolator("nearest" if is_mask else interpolation)
    out = sitk.Resample(_to_sitk(data), _to_sitk(ref), transform, interp, 0.0, sitk.sitkFloat32)
    array = sitk.GetArrayFromImage(out)
    return array > 0.5 if is_mask else array.astype(np.float32)
