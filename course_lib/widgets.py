"""Interactive viewers for the notebooks: thin ipywidgets layers over tested render functions.

Each viewer draws with a pure function that takes an ``Axes`` (testable without a display) and
shows the result as a PNG in an ``ipywidgets.Image``, so it works in JupyterLab, classic Jupyter
and Colab alike and never leaves a figure behind in the notebook.

Volumes are ``(D, H, W)`` arrays with the axes of :func:`course_lib.synthetic.generate_volume`:
``D`` runs front to back (anterior to posterior), ``H`` top to bottom (superior to inferior) and
``W`` across the head (left to right). The three anatomical planes are then

============ ========================== =========================================
plane        fixes                      image shown (rows x columns)
============ ========================== =========================================
``coronal``  a ``D`` position           ``(H, W)``: top to bottom, left to right
``axial``    an ``H`` position          ``(D, W)``: front to back, left to right
``sagittal`` a ``W`` position           ``(H, D)``: top to bottom, front to back
============ ========================== =========================================
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.axes import Axes

from course_lib.plotting import plot_slice

#: The anatomical planes, in the order the viewer offers them.
PLANES: tuple[str, ...] = ("coronal", "axial", "sagittal")

#: Volume axis that each plane fixes (the slider of the viewer moves along it).
PLANE_AXIS: dict[str, int] = {"coronal": 0, "axial": 1, "sagittal": 2}


def _check_volume(volume, name: str = "volume") -> np.ndarray:
    volume = np.asarray(volume)
    if volume.ndim != 3 or min(volume.shape) < 1:
        raise ValueError(f"{name} must be a (D, H, W) array, got shape {volume.shape}")
    if not np.issubdtype(volume.dtype, np.number) and volume.dtype != bool:
        raise TypeError(f"{name} must be numeric, got dtype {volume.dtype}")
    return volume


def _check_plane(plane) -> str:
    if plane not in PLANES:
        raise ValueError(f"plane must be one of {PLANES}, got {plane!r}")
    return plane


def _check_spacing(spacing) -> tuple[float, float, float]:
    try:
        values = tuple(float(s) for s in spacing)
    except (TypeError, ValueError):
        raise TypeError(f"spacing must be three numbers (dz, dy, dx), got {spacing!r}") from None
    if len(values) != 3 or not all(v > 0 for v in values):
        raise ValueError(f"spacing must be three positive numbers (dz, dy, dx), got {spacing!r}")
    return values


def volume_slice(volume, index: int, plane: str = "coronal") -> np.ndarray:
    """Cut one plane out of a volume, oriented for display (superior and anterior up or left).

    Args:
        volume: ``(D, H, W)`` array (front to back, top to bottom, left to right); any dtype.
            Not modified.
        index: Position along the axis the plane fixes (``D`` for coronal, ``H`` for axial,
            ``W`` for sagittal); negative counts from the end as in NumPy.
        plane: ``"coronal"``, ``"axial"`` or ``"sagittal"``.

    Returns:
        A 2D array of the volume's dtype: ``(H, W)`` coronal, ``(D, W)`` axial, ``(H, D)``
        sagittal (a view where NumPy allows; copy it before writing into it).

    Raises:
        ValueError: If ``volume`` is not 3D, ``plane`` is unknown or ``index`` is out of range.
        TypeError: If ``index`` is not an int.

    >>> volume = np.arange(24).reshape(2, 3, 4)
    >>> volume_slice(volume, 1, "coronal").shape, volume_slice(volume, 0, "axial").shape
    ((3, 4), (2, 4))
    >>> volume_slice(volume, 3, "sagittal")
    array([[ 3, 15],
           [ 7, 19],
           [11, 23]])
    """
    volume = _check_volume(volume)
    plane = _check_plane(plane)
    axis = PLANE_AXIS[plane]
    if isinstance(index, bool) or not isinstance(index, (int, np.integer)):
        raise TypeError(f"index must be an int, got {index!r}")
    size = volume.shape[axis]
    if not -size <= index < size:
        raise ValueError(
            f"index {index} is out of range for the {plane} plane: the volume has {size} "
            f"positions along axis {axis} (use 0..{size - 1})"
        )
    if plane == "coronal":
        return volume[index]
    if plane == "axial":
        return volume[:, index, :]
    return volume[:, :, index].T


def render_volume_slice(
    volume,
    index: int,
    *,
    plane: str = "coronal",
    ax: Axes | None = None,
    mask=None,
    spacing: Sequence[float] = (1.0, 1.0, 1.0),
    title: str | None = None,
    vmin: float | None = 0.0,
    vmax: float | None = 1.0,
) -> Axes:
    """Draw one plane of a volume with the right proportions (what the viewer shows).

    Args:
        volume: ``(D, H, W)`` array, e.g. one contrast of
            :func:`course_lib.synthetic.generate_volume`; not modified.
        index: Position along the axis the plane fixes (see :func:`volume_slice`).
        plane: ``"coronal"``, ``"axial"`` or ``"sagittal"``.
        ax: Axes to draw on (default: the current axes).
        mask: Optional ``(D, H, W)`` integer mask (e.g. the tumour mask), drawn as contours.
        spacing: Voxel size ``(dz, dy, dx)`` along ``D``, ``H`` and ``W``, in any one unit; it
            sets the aspect ratio, so a volume with thick slices is not squashed.
        title: Axes title (default: ``"<plane> <index + 1>/<positions>"``).
        vmin: Lower end of the grey scale (``None``: the slice's minimum).
        vmax: Upper end of the grey scale (``None``: the slice's maximum).

    Returns:
        The axes, holding one image (plus contours when ``mask`` is given), no ticks.

    Raises:
        ValueError: If ``volume`` is not 3D, ``mask`` has another shape, ``plane`` is unknown,
            ``index`` is out of range or ``spacing`` is not three positive numbers.
        TypeError: If ``index`` is not an int or ``spacing`` not numbers.
    """
    import matplotlib.pyplot as plt

    volume = _check_volume(volume)
    dz, dy, dx = _check_spacing(spacing)
    image = volume_slice(volume, index, plane)
    cut = None
    if mask is not None:
        mask = _check_volume(mask, "mask")
        if mask.shape != volume.shape:
            raise ValueError(f"mask shape {mask.shape} does not match volume shape {volume.shape}")
        cut = volume_slice(mask, index, plane)
    ax = plt.gca() if ax is None else ax
    size = volume.shape[PLANE_AXIS[plane]]
    if title is None:
        title = f"{plane} {index % size + 1}/{size}"
    plot_slice(image, ax=ax, mask=cut, title=title, vmin=vmin, vmax=vmax)
    rows, cols = {"coronal": (dy, dx), "axial": (dz, dx), "sagittal": (dy, dz)}[plane]
    ax.set_aspect(rows / cols)
    return ax


def _figure_png(draw, figsize: tuple[float, float], dpi: int) -> bytes:
    """Run ``draw(ax)`` on a fresh off-screen figure and return it as PNG bytes."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, dpi=dpi, layout="constrained")
    FigureCanvasAgg(fig)
    draw(fig.add_subplot())
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()


def volume_viewer(
    volumes,
    *,
    mask=None,
    spacing: Sequence[float] = (1.0, 1.0, 1.0),
    plane: str = "coronal",
    size: float = 4.0,
    dpi: int = 80,
):
    """Scroll through a volume in any plane and switch between its contrasts.

    A dropdown picks the contrast, toggle buttons the plane, a slider the position; each change
    redraws the slice with :func:`render_volume_slice` into an ``ipywidgets.Image``.

    Args:
        volumes: One ``(D, H, W)`` array, or ``{contrast name: (D, H, W) array}`` of one shape
            (e.g. ``generate_volume(...)["images"]``). Not modified.
        mask: Optional ``(D, H, W)`` integer mask drawn as contours (e.g. the tumour mask).
        spacing: Voxel size ``(dz, dy, dx)``, see :func:`render_volume_slice`.
        plane: The plane shown first.
        size: Height of the drawn figure in inches.
        dpi: Resolution of the drawn figure.

    Returns:
        An ``ipywidgets.VBox``: a row of controls (``Dropdown``, ``ToggleButtons``,
        ``IntSlider``) above an ``Image``. Display it as the last line of a cell.

    Raises:
        ValueError: If there is no volume, the volumes differ in shape or are not 3D, ``mask``
            does not match, or ``plane``, ``spacing``, ``size`` or ``dpi`` is invalid.
        TypeError: If ``volumes`` is neither an array nor a mapping of arrays.
    """
    import ipywidgets as widgets

    if isinstance(volumes, Mapping):
        named = {str(k): _check_volume(v, f"volumes[{k!r}]") for k, v in volumes.items()}
    elif isinstance(volumes, (np.ndarray, list, tuple)):
        named = {"volume": _check_volume(volumes)}
    else:
        raise TypeError(
            f"volumes must be a (D, H, W) array or a dict of them, got {type(volumes).__name__}"
        )
    if not named:
        raise ValueError("volumes is empty; pass at least one (D, H, W) array")
    shapes = {v.shape for v in named.values()}
    if len(shapes) != 1:
        raise ValueError(f"all volumes must have one shape, got {sorted(shapes)}")
    shape = shapes.pop()
    if mask is not None:
        mask = _check_volume(mask, "mask")
        if mask.shape != shape:
            raise ValueError(f"mask shape {mask.shape} does not match volume shape {shape}")
    _check_plane(plane)
    dz, dy, dx = _check_spacing(spacing)
    if not size > 0 or isinstance(dpi, bool) or not isinstance(dpi, int) or dpi < 10:
        raise ValueError(f"size must be > 0 and dpi an int >= 10, got size={size!r}, dpi={dpi!r}")

    def extent(which: str) -> float:
        """Width over height of the drawn slice, in physical units."""
        d, h, w = shape
        rows, cols = {"coronal": (h * dy, w * dx), "axial": (d * dz, w * dx)}.get(
            which, (h * dy, d * dz)
        )
        return cols / rows

    contrast = widgets.Dropdown(options=list(named), description="contrast")
    planes = widgets.ToggleButtons(options=list(PLANES), value=plane, description="plane")
    axis_size = shape[PLANE_AXIS[plane]]
    position = widgets.IntSlider(
        value=axis_size // 2, min=0, max=axis_size - 1, description="slice", continuous_update=True
    )
    image = widgets.Image(format="png")

    def redraw(*_) -> None:
        which = planes.value
        figsize = (min(3 * size, max(size * extent(which), size / 3)) + 0.2, size)
        image.value = _figure_png(
            lambda ax: render_volume_slice(
                named[contrast.value],
                position.value,
                plane=which,
                ax=ax,
                mask=mask,
                spacing=(dz, dy, dx),
                title=f"{contrast.value} · {which} {position.value + 1}/{position.max + 1}",
            ),
            figsize,
            dpi,
        )

    def change_plane(change) -> None:
        new_size = shape[PLANE_AXIS[change["new"]]]
        with position.hold_trait_notifications():
            position.max = new_size - 1
            position.value = new_size // 2
        redraw()

    planes.observe(change_plane, names="value")
    contrast.observe(redraw, names="value")
    position.observe(redraw, names="value")
    redraw()
    return widgets.VBox([widgets.HBox([contrast, planes, position]), image])
