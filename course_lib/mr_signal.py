"""MR signal from relaxation times: why T1, T2 and FLAIR images look as they do.

Every tissue has a proton density (how much hydrogen gives signal) and two relaxation times:
**T1**, how fast its magnetisation grows back along the magnet's field after a radio pulse, and
**T2**, how fast the signal it gives off decays. A sequence picks when to pulse and when to
listen, and so which of the three the image is *weighted* by:

- **spin echo** (repetition time TR, echo time TE):
  ``S = PD * (1 - exp(-TR / T1)) * exp(-TE / T2)``. A short TR and TE give T1 weighting (short
  T1 bright: fat, white matter); a long TR and TE give T2 weighting (long T2 bright: water,
  CSF, edema).
- **inversion recovery** (FLAIR; inversion time TI):
  ``S = PD * |1 - 2 exp(-TI / T1) + exp(-TR / T1)| * exp(-TE / T2)``. At
  ``TI = T1 ln(2 / (1 + exp(-TR / T1)))`` a tissue of that T1 gives no signal: FLAIR picks the
  TI that nulls CSF, so a T2-weighted image remains in which edema is bright and CSF black.
- **gadolinium** shortens T1 (and a little T2) where it reaches the tissue:
  ``1 / T1' = 1 / T1 + r1 * C`` with relaxivity ``r1`` and concentration ``C``. It stays in the
  vessels of a healthy brain; where a tumour breaks the blood-brain barrier it leaks out, the
  tissue's T1 drops and it turns bright on T1-CE.

T1 lengthens with the field strength (about as ``B ** 0.3`` in brain tissue), so a 3 T scanner
with a 1.5 T protocol gives a different contrast: one reason why sites differ.

The relaxation times are rounded literature values at 1.5 T (brain tissue: Stanisz et al.,
Magn Reson Med 2005; Wansapura et al., J Magn Reson Imaging 1999; CSF, fat, muscle and blood:
Bojorquez et al., Magn Reson Imaging 2017; lesions: typical ranges from neuroradiology texts).
They are a teaching model, good to the tens of percent, not a quantitative MRI reference.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from course_lib._validation import check_choice, check_number


@dataclass(frozen=True)
class Tissue:
    """What a tissue gives a scanner.

    Attributes:
        pd: Proton density relative to CSF (1).
        t1: T1 in milliseconds at 1.5 T.
        t2: T2 in milliseconds (apparent T2 on a fast spin echo for fat).
        gd: Gadolinium concentration after a standard dose, in mmol/L (0 behind an intact
            blood-brain barrier).
        t1_field_exponent: How T1 grows with the field: ``T1(B) = T1 * (B / 1.5) ** exponent``.
    """

    pd: float
    t1: float
    t2: float
    gd: float = 0.0
    t1_field_exponent: float = 0.3


#: Proton density, relaxation times at 1.5 T and contrast uptake of every tissue the engine
#: draws. ``bone`` and ``vessel`` (flowing blood, a flow void on spin echo) give almost no
#: signal; ``sinus`` is slow venous blood, which fills with contrast.
TISSUES: dict[str, Tissue] = {
    "air": Tissue(0.0, 1000.0, 1.0),
    "fat": Tissue(0.7, 260.0, 150.0, t1_field_exponent=0.1),
    "muscle": Tissue(0.7, 1010.0, 44.0),
    "bone": Tissue(0.08, 300.0, 5.0),
    "csf": Tissue(1.0, 4000.0, 2000.0, t1_field_exponent=0.0),
    "gm": Tissue(0.8, 1100.0, 100.0),
    "wm": Tissue(0.69, 790.0, 80.0),
    "dura": Tissue(0.5, 1000.0, 50.0, gd=0.6),
    "sinus": Tissue(0.85, 1500.0, 70.0, gd=0.8),
    "vessel": Tissue(0.03, 1500.0, 200.0),
    "gland": Tissue(0.8, 800.0, 90.0, gd=0.6),
    "tumor": Tissue(0.85, 1250.0, 150.0, gd=0.02),
    "enhancing": Tissue(0.85, 1250.0, 130.0, gd=0.3),
    "necrosis": Tissue(0.95, 2500.0, 400.0),
    "edema": Tissue(0.9, 1400.0, 200.0),
    "meningioma": Tissue(0.82, 1050.0, 90.0, gd=0.35),
    "adenoma": Tissue(0.82, 1000.0, 100.0, gd=0.2),
}

#: Gadolinium relaxivities (per mmol/L per second) near 1.5 T.
R1_GADOLINIUM, R2_GADOLINIUM = 4.5, 5.0


@dataclass(frozen=True)
class Protocol:
    """A sequence and its timing, in milliseconds.

    Attributes:
        sequence: ``"spin_echo"`` or ``"inversion_recovery"``.
        tr: Repetition time.
        te: Echo time.
        ti: Inversion time (inversion recovery only); ``None`` nulls CSF at the scan's field.
        contrast_agent: Whether gadolinium was given (T1-CE).
    """

    sequence: str
    tr: float
    te: float
    ti: float | None = None
    contrast_agent: bool = False


#: The protocol of each contrast at a typical 1.5 T site.
PROTOCOLS: dict[str, Protocol] = {
    "T1": Protocol("spin_echo", tr=500.0, te=10.0),
    "T1CE": Protocol("spin_echo", tr=500.0, te=10.0, contrast_agent=True),
    "T2": Protocol("spin_echo", tr=4000.0, te=100.0),
    "FLAIR": Protocol("inversion_recovery", tr=9000.0, te=120.0),
}

#: The brightest tissue of an image is displayed at this value (scanners scale their images).
DISPLAY_MAX = 0.95


def spin_echo(pd, t1, t2, *, tr: float, te: float):
    """Spin-echo signal ``PD (1 - exp(-TR/T1)) exp(-TE/T2)`` (times in ms; arrays broadcast).

    >>> wm, csf = spin_echo(0.69, 790, 80, tr=500, te=10), spin_echo(1.0, 4000, 2000, tr=500, te=10)
    >>> bool(wm > csf)  # T1 weighting: white matter bright, CSF dark
    True
    """
    return pd * (1 - np.exp(-tr / np.asarray(t1))) * np.exp(-te / np.asarray(t2))


def inversion_recovery(pd, t1, t2, *, tr: float, te: float, ti: float):
    """Magnitude inversion-recovery signal ``PD |1 - 2 exp(-TI/T1) + exp(-TR/T1)| exp(-TE/T2)``.

    >>> ti = null_inversion_time(4000, tr=9000)
    >>> round(float(inversion_recovery(1.0, 4000, 2000, tr=9000, te=120, ti=ti)), 6)
    0.0
    """
    t1 = np.asarray(t1)
    recovery = 1 - 2 * np.exp(-ti / t1) + np.exp(-tr / t1)
    return pd * np.abs(recovery) * np.exp(-te / np.asarray(t2))


def null_inversion_time(t1: float, *, tr: float) -> float:
    """The inversion time (ms) at which a tissue of this T1 gives no signal.

    >>> round(null_inversion_time(4000, tr=9000))
    2372
    """
    return float(t1 * math.log(2 / (1 + math.exp(-tr / t1))))


def relaxation_at(tissue: Tissue, *, field: float = 1.5, contrast_agent: bool = False):
    """``(T1, T2)`` in ms of a tissue at a field strength (tesla), with or without gadolinium.

    >>> relaxation_at(TISSUES["enhancing"], contrast_agent=True)[0] < TISSUES["enhancing"].t1
    True
    """
    t1 = tissue.t1 * (field / 1.5) ** tissue.t1_field_exponent
    t2 = tissue.t2
    if contrast_agent and tissue.gd > 0:
        t1 = 1000 / (1000 / t1 + R1_GADOLINIUM * tissue.gd)
        t2 = 1000 / (1000 / t2 + R2_GADOLINIUM * tissue.gd)
    return t1, t2


def signal_intensities(
    contrast: str, *, field: float = 1.5, tr_scale: float = 1.0, te_scale: float = 1.0
) -> dict[str, float]:
    """Displayed intensity of every tissue in one contrast, from the signal equations.

    Args:
        contrast: A key of :data:`PROTOCOLS` (``"T1"``, ``"T1CE"``, ``"T2"``, ``"FLAIR"``).
        field: Field strength in tesla (0.2 to 7).
        tr_scale: Multiplies the protocol's TR (a site's own protocol).
        te_scale: Multiplies the protocol's TE.

    Returns:
        ``{tissue: intensity}`` for every tissue in :data:`TISSUES`, scaled so that the
        brightest is :data:`DISPLAY_MAX`.

    Raises:
        ValueError: If ``contrast`` is unknown or a number is out of range.

    >>> t2 = signal_intensities("T2")
    >>> t2["csf"] > t2["gm"] > t2["wm"], round(t2["csf"], 2)
    (True, 0.95)
    """
    check_choice("contrast", contrast, tuple(PROTOCOLS))
    check_number("field", field, minimum=0.2, maximum=7.0)
    check_number("tr_scale", tr_scale, minimum=0.25, maximum=4.0)
    check_number("te_scale", te_scale, minimum=0.25, maximum=4.0)
    protocol = PROTOCOLS[contrast]
    tr, te = protocol.tr * tr_scale, protocol.te * te_scale
    ti = protocol.ti
    if protocol.sequence == "inversion_recovery" and ti is None:
        ti = null_inversion_time(relaxation_at(TISSUES["csf"], field=field)[0], tr=tr)
    raw = {}
    for name, tissue in TISSUES.items():
        t1, t2 = relaxation_at(tissue, field=field, contrast_agent=protocol.contrast_agent)
        if protocol.sequence == "spin_echo":
            raw[name] = float(spin_echo(tissue.pd, t1, t2, tr=tr, te=te))
        else:
            raw[name] = float(inversion_recovery(tissue.pd, t1, t2, tr=tr, te=te, ti=ti))
    top = max(raw.values())
    return {name: DISPLAY_MAX * value / top for name, value in raw.items()}
