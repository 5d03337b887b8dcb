"""Routing metrics and calibration on hand-checkable examples."""

import numpy as np
import pytest

from orchestrouter.router.calibration import Calibration
from orchestrouter.training.calibration import share_at, threshold_for_share
from orchestrouter.training.everyday import category_report
from orchestrouter.training.metrics import pgr_curve, random_router_apgr, summarise


def test_apgr_by_hand():
    # Prompt 0: only the strong model is right; prompt 1: both are. Weak-only 0.5, strong-only 1.0.
    strong, weak = np.array([1.0, 1.0]), np.array([0.0, 1.0])
    good = pgr_curve(np.array([0.9, 0.1]), strong, weak)
    assert good.pgr.tolist() == [0.0, 1.0, 1.0]
    assert good.apgr() == pytest.approx(0.75)  # 0.5·(0+1)/2 + 0.5·(1+1)/2
    assert good.cpt(0.5) == pytest.approx(0.5)
    bad = pgr_curve(np.array([0.1, 0.9]), strong, weak)
    assert bad.apgr() == pytest.approx(0.25)
    assert bad.cpt(0.8) == pytest.approx(1.0)


def test_weak_wins_make_pgr_dip_below_zero():
    strong, weak = np.array([0.0, 1.0, 1.0]), np.array([1.0, 0.0, 0.0])
    curve = pgr_curve(np.array([3.0, 2.0, 1.0]), strong, weak)
    assert curve.pgr[1] == pytest.approx(-1.0)
    assert summarise(np.array([1.0, 2.0, 3.0]), strong, weak)["cpt50"] == pytest.approx(1 / 3)


def test_random_router_is_about_half():
    rng = np.random.default_rng(1)
    strong, weak = (rng.random(2000) < 0.8).astype(float), (rng.random(2000) < 0.6).astype(float)
    mean, std = random_router_apgr(strong, weak, trials=50)
    assert abs(mean - 0.5) < 3 * std + 0.01
    assert 0 < std < 0.05


def test_pgr_undefined_without_a_gap():
    with pytest.raises(ValueError, match="same mean quality"):
        pgr_curve(np.array([0.1, 0.2]), np.array([1.0, 0.0]), np.array([0.0, 1.0]))


def test_threshold_for_share_sends_that_share():
    scores = np.linspace(0.0, 1.0, 1001)
    for share in (0.1, 0.22, 0.5):
        assert share_at(scores, threshold_for_share(scores, share)) == pytest.approx(share, abs=0.002)


def test_calibration_table_round_trip():
    cal = Calibration.from_scores(np.random.default_rng(0).beta(2, 8, 5000), "synthetic")
    t = cal.threshold_for_share(0.2)
    assert cal.share_for_threshold(t) == pytest.approx(0.2, abs=0.01)
    assert cal.threshold_for_share(0.1) > t > cal.threshold_for_share(0.5)


def test_category_report_counts_shares():
    report = category_report(["a", "a", "b", "b"], np.array([0.05, 0.25, 0.35, 0.15]), table_threshold=0.3)
    assert report["categories"]["a"]["premium_share@0.2"] == 0.5
    assert report["categories"]["b"]["premium_share@table"] == 0.5
    assert report["overall"]["premium_share@0.1"] == 0.75


def test_category_report_default_point_is_calibrated_on_the_queries_themselves():
    scores = np.linspace(0.0, 1.0, 100)
    report = category_report(["a"] * 50 + ["b"] * 50, scores, table_threshold=0.9)
    assert report["overall"]["premium_share@default"] == pytest.approx(0.22, abs=0.011)
    assert report["categories"]["a"]["premium_share@default"] == 0.0
    assert report["categories"]["b"]["premium_share@default"] == pytest.approx(0.44, abs=0.021)
