"""Ranking metrics against values computed by hand (tolerance 1e-4)."""

from __future__ import annotations

import pytest

from bench.metrics import mrr_at_k, ndcg_at_k, ranking_report, recall_at_k

TOL = 1e-4

# Three samples: a hit at rank 2; a miss; two relevant items at ranks 1 and 3.
TRUTH = [{"a"}, {"x"}, {"a", "c"}]
PREDICTIONS = [["b", "a", "c"], ["y", "z"], ["a", "b", "c"]]


def test_recall_by_hand():
    # per sample @1: 0, 0, 1/2 ; @10: 1, 0, 1
    assert recall_at_k(TRUTH, PREDICTIONS, k=1) == pytest.approx(0.5 / 3, abs=TOL)
    assert recall_at_k(TRUTH, PREDICTIONS, k=10) == pytest.approx(2 / 3, abs=TOL)


def test_ndcg_by_hand():
    # sample 1: 1/log2(3) = 0.63093; sample 3 @10: (1 + 1/log2(4)) / (1 + 1/log2(3)) = 1.5 / 1.63093 = 0.91972
    assert ndcg_at_k(TRUTH, PREDICTIONS, k=10) == pytest.approx((0.63093 + 0.91972) / 3, abs=TOL)
    # @2 the third item of sample 3 falls off: 1 / 1.63093 = 0.61315
    assert ndcg_at_k(TRUTH, PREDICTIONS, k=2) == pytest.approx((0.63093 + 0.61315) / 3, abs=TOL)


def test_mrr_by_hand():
    assert mrr_at_k(TRUTH, PREDICTIONS, k=10) == pytest.approx((0.5 + 0 + 1) / 3, abs=TOL)
    assert mrr_at_k(TRUTH, PREDICTIONS, k=1) == pytest.approx(1 / 3, abs=TOL)


def test_missing_ground_truth_counts_as_a_miss():
    # A ReDial movie absent from the catalog has no relevant id: it scores 0 and still counts as a sample.
    report = ranking_report([set(), {"a"}], [["a", "b"], ["a"]])
    assert report["samples"] == 2
    assert report["recall@1"] == pytest.approx(0.5, abs=TOL)
    assert report["ndcg@10"] == pytest.approx(0.5, abs=TOL)
    assert report["mrr@50"] == pytest.approx(0.5, abs=TOL)


def test_report_names_and_bounds():
    report = ranking_report(TRUTH, PREDICTIONS)
    assert set(report) == {"recall@1", "recall@10", "recall@50", "ndcg@10", "ndcg@50", "mrr@10", "mrr@50",
                           "samples"}
    assert all(0.0 <= v <= 1.0 for key, v in report.items() if key != "samples")
    assert report["recall@50"] >= report["recall@10"] >= report["recall@1"]


def test_empty_and_mismatched_inputs():
    assert recall_at_k([], [], k=10) == 0.0
    with pytest.raises(ValueError, match="prediction lists"):
        recall_at_k([{"a"}], [], k=10)
    with pytest.raises(ValueError, match="k must be"):
        ndcg_at_k([{"a"}], [["a"]], k=0)
