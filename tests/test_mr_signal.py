from __future__ import annotations

import math

import numpy as np
import pytest

from course_lib import mr_signal
from course_lib.acquisition import (
    CONTRASTS,
    SITE_PROFILES,
    TISSUE_INTENSITIES,
    SiteProfile,
    tissue_intensities,
)
from course_lib.mr_signal import (
    PROTOCOLS,
    TISSUES,
    inversion_recovery,
    null_inversion_time,
    relaxation_at,
    signal_intensities,
    spin_echo,
)


def test_signal_equations_by_hand():
    assert spin_echo(1.0, 1000.0, 100.0, tr=1000.0, te=100.0) == pytest.approx(
        (1 - math.exp(-1)) * math.exp(-1)
    )
    # a very long TR and a zero TE give the proton density
    assert spin_echo(0.7, 800.0, 80.0, tr=1e7, te=0.0) == pytest.approx(0.7)
    # inversion recovery at TI = 0 is fully inverted: |1 - 2 + exp(-TR/T1)|
    assert inversion_recovery(1.0, 1000.0, 1e9, tr=2000.0, te=0.0, ti=0.0) == pytest.approx(
        1 - math.exp(-2)
    )
    ti = null_inversion_time(900.0, tr=5000.0)
    assert inversion_recovery(1.0, 900.0, 80.0, tr=5000.0, te=10.0, ti=ti) == pytest.approx(
        0.0, abs=1e-12
    )
    # arrays broadcast
    assert spin_echo(
        np.ones(3), np.array([300.0, 900.0, 3000.0]), 80.0, tr=500.0, te=10.0
    ).shape == (3,)


def test_each_contrast_shows_what_radiology_says():
    t1, t1ce = signal_intensities("T1"), signal_intensities("T1CE")
    t2, flair = signal_intensities("T2"), signal_intensities("FLAIR")
    # T1: fat brightest, white matter above grey matter above CSF
    assert t1["fat"] == max(t1.values())
    assert t1["wm"] > t1["gm"] > t1["csf"]
    # T2: CSF brightest, grey matter above white matter; edema and necrosis bright
    assert t2["csf"] == max(t2.values())
    assert t2["gm"] > t2["wm"] and t2["edema"] > t2["gm"] and t2["necrosis"] > t2["edema"]
    # FLAIR: CSF nulled, edema bright
    assert flair["csf"] < 0.01 and flair["edema"] > flair["gm"] > flair["wm"]
    # gadolinium: enhancing tissues gain, the brain behind its barrier does not
    for tissue in ("enhancing", "meningioma", "adenoma", "gland", "dura", "sinus"):
        assert t1ce[tissue] / t1ce["wm"] > 1.5 * t1[tissue] / t1["wm"], tissue
    assert t1ce["gm"] / t1ce["wm"] == pytest.approx(t1["gm"] / t1["wm"])
    assert t1ce["necrosis"] / t1ce["wm"] == pytest.approx(t1["necrosis"] / t1["wm"])
    for values in (t1, t1ce, t2, flair):
        assert set(values) == set(TISSUES)
        assert max(values.values()) == pytest.approx(mr_signal.DISPLAY_MAX)
        assert min(values.values()) == 0.0  # air


def test_gadolinium_and_field_change_relaxation():
    tissue = TISSUES["enhancing"]
    t1, t2 = relaxation_at(tissue, contrast_agent=True)
    assert 1000 / t1 == pytest.approx(1000 / tissue.t1 + mr_signal.R1_GADOLINIUM * tissue.gd)
    assert t2 < tissue.t2
    assert relaxation_at(TISSUES["wm"], contrast_agent=True) == (TISSUES["wm"].t1, TISSUES["wm"].t2)
    assert relaxation_at(TISSUES["wm"], field=3.0)[0] > TISSUES["wm"].t1
    assert relaxation_at(TISSUES["csf"], field=3.0)[0] == TISSUES["csf"].t1


def test_sites_differ_by_field_and_protocol():
    reference = signal_intensities("T1")
    three_tesla = signal_intensities("T1", field=3.0)
    # longer T1 at 3 T with the same TR: less T1 weighting between WM and CSF
    assert three_tesla["wm"] - three_tesla["csf"] < reference["wm"] - reference["csf"]
    # FLAIR nulls CSF at every field, because TI follows the field's CSF T1
    assert signal_intensities("FLAIR", field=3.0)["csf"] < 0.01
    # a longer TE weights T2 more
    long_te = signal_intensities("T2", te_scale=1.5)
    assert (
        long_te["wm"] / long_te["csf"]
        < signal_intensities("T2")["wm"] / signal_intensities("T2")["csf"]
    )
    # sites carry their protocol into the intensities the engine paints with
    assert tissue_intensities("T1", SITE_PROFILES["site_B"]) != tissue_intensities(
        "T1", SiteProfile()
    )
    assert tissue_intensities("T2", SiteProfile()) == pytest.approx(
        {t: row[CONTRASTS.index("T2")] for t, row in TISSUE_INTENSITIES.items()}, abs=1e-3
    )


def test_reference_table_is_the_physics():
    for k, contrast in enumerate(CONTRASTS):
        values = signal_intensities(contrast)
        for tissue, row in TISSUE_INTENSITIES.items():
            assert row[k] == pytest.approx(values[tissue], abs=5e-4)
    assert set(PROTOCOLS) == set(CONTRASTS)


def test_signal_intensities_errors():
    with pytest.raises(ValueError, match="contrast"):
        signal_intensities("DWI")
    with pytest.raises(ValueError, match="field"):
        signal_intensities("T1", field=0.0)
    with pytest.raises(ValueError, match="tr_scale"):
        signal_intensities("T1", tr_scale=10.0)
    with pytest.raises(ValueError, match="te_scale"):
        signal_intensities("T1", te_scale=0.0)
    with pytest.raises(TypeError, match="field"):
        signal_intensities("T1", field="3T")
