"""The oracle converter on the repository's files (numpy and safetensors only)."""

import contextlib
import io
import json
import pathlib
import tempfile
import unittest

import results_from_oracle

ROOT = pathlib.Path(__file__).resolve().parents[2]
SUITE_DIR = ROOT / "reference-suites/suites/digits-mlp"
OUTPUTS = ROOT / "reference-suites/tests/data/art_outputs_shared.safetensors"
COMMITTED = SUITE_DIR / "art/base-art-1.20.1.json"


def convert(out, model=SUITE_DIR / "mlp_trained.safetensors", item=("--item", "base")):
    args = ["--suite", str(SUITE_DIR / "suite.toml"), *item, "--model", str(model),
            "--outputs", str(OUTPUTS), "--out", str(out)]
    err = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
        rc = results_from_oracle.main(args)
    return rc, err.getvalue()


class Oracle(unittest.TestCase):
    def test_the_art_outputs_give_the_oracle_readme_figures(self):
        with tempfile.TemporaryDirectory() as d:
            out = pathlib.Path(d) / "r.json"
            self.assertEqual(convert(out)[0], 0)
            doc = json.loads(out.read_text())
        got = {
            (r["test"], m["metric"]): m["values"][0]
            for r in doc["results"]
            for m in r["metrics"]
        }
        self.assertEqual(round(got[("fgsm-eps0.1", "robust_accuracy")], 4), 0.286)
        self.assertEqual(round(got[("pgd-eps0.1", "robust_accuracy")], 4), 0.228)
        self.assertEqual(round(got[("fgsm-eps0.1", "clean_accuracy")], 4), 0.966)
        self.assertEqual(round(got[("mia-loss-threshold", "auc")], 4), 0.5245)
        self.assertEqual(round(got[("mia-loss-threshold", "max_advantage")], 4), 0.0777)
        tool = {"name": "adversarial-robustness-toolbox", "version": "1.20.1"}
        self.assertEqual(doc["tool"], tool)

    def test_the_committed_file_is_what_the_script_writes(self):
        with tempfile.TemporaryDirectory() as d:
            out = pathlib.Path(d) / "r.json"
            convert(out)
            self.assertEqual(out.read_bytes(), COMMITTED.read_bytes())

    def test_outputs_of_another_model_are_refused(self):
        with tempfile.TemporaryDirectory() as d:
            out = pathlib.Path(d) / "r.json"
            rc, err = convert(out, SUITE_DIR / "mlp_init.safetensors", item=("--no-item",))
            self.assertEqual(rc, 2)
            self.assertIn("are not of", err)
            self.assertFalse(out.exists())

    def test_a_model_file_that_is_not_the_items_is_refused(self):
        with tempfile.TemporaryDirectory() as d:
            out = pathlib.Path(d) / "r.json"
            rc, err = convert(out, SUITE_DIR / "items/mlp_overfit.safetensors")
            self.assertEqual(rc, 2)
            self.assertIn("is not item 'base''s model", err)


if __name__ == "__main__":
    unittest.main()
