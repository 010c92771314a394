"""Unit tests of the metrics and the suite reading (numpy only, no ART, no torch):

    python3 -m unittest discover -s tools/art -p 'test_*.py'
"""

import itertools
import math
import pathlib
import tempfile
import unittest

import numpy as np

import interlab_results as ir

ROOT = pathlib.Path(__file__).resolve().parents[2]
SUITE = ROOT / "reference-suites/suites/digits-mlp/suite.toml"


def mann_whitney(members, non_members):
    pairs = [
        1.0 if a > b else 0.5 if a == b else 0.0
        for a, b in itertools.product(members, non_members)
    ]
    return sum(pairs) / len(pairs)


class Roc(unittest.TestCase):
    def test_auc_counts_ties_as_one_half_as_the_engine_does(self):
        self.assertEqual(ir.roc([1.0], [1.0])["auc"], 0.5)
        self.assertEqual(ir.roc([2.0, 1.0], [1.0, 0.0])["auc"], 0.875)
        r = ir.roc([3.0, 2.0], [1.0, 0.0])
        self.assertEqual((r["auc"], r["max_advantage"], r["tpr_at_fpr_0_1pct"]), (1.0, 1.0, 1.0))

    def test_auc_equals_the_mann_whitney_pair_count_on_tied_scores(self):
        rng = np.random.default_rng(7)
        m = rng.integers(0, 6, 40).astype(float)
        n = rng.integers(0, 5, 25).astype(float)
        self.assertAlmostEqual(ir.roc(m, n)["auc"], mann_whitney(m, n), places=12)

    def test_tpr_at_low_fpr_takes_only_thresholds_within_the_fpr(self):
        r = ir.roc([1.0, 0.5], [2.0, 0.0])
        self.assertEqual(r["tpr_at_fpr_1pct"], 0.0)
        self.assertEqual(r["max_advantage"], 0.5)
        self.assertEqual((r["adv_tpr"], r["adv_fpr"]), (1.0, 0.5))

    def test_non_finite_scores_are_refused(self):
        with self.assertRaisesRegex(ir.AdapterError, "finite"):
            ir.roc([float("nan")], [0.0])


class Uncertainty(unittest.TestCase):
    def test_hanley_mcneil_pairs_q1_with_the_members(self):
        # A = 0.75, 10 members, 20 non-members: Q1 = 0.6, Q2 = 9/14.
        want = math.sqrt((0.1875 + 9 * 0.0375 + 19 * (9 / 14 - 0.5625)) / 200)
        self.assertAlmostEqual(ir.hanley_mcneil(0.75, 10, 20), want, places=12)
        self.assertNotAlmostEqual(ir.hanley_mcneil(0.75, 20, 10), want, places=3)

    def test_a_proportion_has_the_binomial_standard_uncertainty(self):
        p, u, n = ir.proportion(np.array([True] * 143 + [False] * 357))
        self.assertEqual((p, n), (0.286, 500))
        self.assertAlmostEqual(u, math.sqrt(0.286 * 0.714 / 500), places=15)

    def test_attack_success_counts_only_rows_correct_before_the_attack(self):
        y = np.array([0, 1, 2, 3])
        em = ir.evasion_metrics(y, [0, 1, 2, 0], [0, 0, 0, 0])
        ms = {m["metric"]: m["values"][0] for m in em}
        self.assertEqual(ms["clean_accuracy"], 0.75)
        self.assertEqual(ms["robust_accuracy"], 0.25)
        self.assertAlmostEqual(ms["attack_success_rate"], 2 / 3, places=15)

    def test_rule_based_advantage_is_train_minus_test_accuracy(self):
        ms = {m["metric"]: m["values"][0] for m in ir.rule_metrics([True] * 4, [True, False])}
        self.assertEqual(ms["advantage"], 0.5)
        self.assertAlmostEqual(ms["accuracy"], 5 / 6, places=15)
        self.assertEqual(ms["balanced_accuracy"], 0.75)


class SuiteReading(unittest.TestCase):
    def test_the_digits_suite_yields_fgsm_pgd_and_both_membership_tests(self):
        tests, skipped = ir.Suite(SUITE).tests_for_item(None)
        self.assertEqual(
            [t["id"] for t in tests],
            ["fgsm-eps0.1", "pgd-eps0.1", "mia-loss-threshold", "mia-rule-based"],
        )
        self.assertTrue(any(s.startswith("pgd-rs-eps0.1") for s in skipped))

    def test_an_unknown_item_is_refused_with_the_known_ones(self):
        with self.assertRaisesRegex(ir.AdapterError, r"no item 'nope' \(items: base, robust"):
            ir.Suite(SUITE).tests_for_item("nope")

    def test_an_item_runs_only_the_tests_it_names(self):
        with tempfile.TemporaryDirectory() as d:
            p = small_suite(d, 'tests = ["pgd-eps0.1"]')
            tests, _ = ir.Suite(p).tests_for_item("base")
            self.assertEqual([t["id"] for t in tests], ["pgd-eps0.1"])

    def test_a_model_file_other_than_the_items_is_refused(self):
        with tempfile.TemporaryDirectory() as d:
            p = small_suite(d)
            (pathlib.Path(d) / "item.safetensors").write_bytes(b"the item")
            other = pathlib.Path(d) / "other.safetensors"
            other.write_bytes(b"another model")
            with self.assertRaisesRegex(ir.AdapterError, "is not item 'base''s model"):
                ir.Suite(p).check_model_file("base", other)
            ir.Suite(p).check_model_file("base", pathlib.Path(d) / "item.safetensors")


def small_suite(d, item_extra=""):
    p = pathlib.Path(d) / "suite.toml"
    p.write_text(
        '[artefacts.m]\npath = "item.safetensors"\n'
        '[[tests]]\nid = "fgsm-eps0.1"\nparams = { kind = "fgsm", eps = 0.1 }\n'
        '[[tests]]\nid = "pgd-eps0.1"\n'
        'params = { kind = "pgd", eps = 0.1, step = 0.025, iterations = 10 }\n'
        f'[[items]]\nid = "base"\nmodel = "m"\n{item_extra}\n'
    )
    return p

if __name__ == "__main__":
    unittest.main()
