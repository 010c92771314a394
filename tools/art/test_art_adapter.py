"""The adapter with real ART on item `base` (skipped where ART and torch are not installed):
its figures and adversarial predictions must be those of the oracle's ART 1.20.1 run."""

import contextlib
import importlib.util
import io
import json
import pathlib
import tempfile
import unittest

ROOT = pathlib.Path(__file__).resolve().parents[2]
SUITE_DIR = ROOT / "reference-suites/suites/digits-mlp"
HAVE_ART = all(importlib.util.find_spec(m) for m in ("art", "torch"))


@unittest.skipUnless(HAVE_ART, "adversarial-robustness-toolbox and torch are not installed")
class RealArt(unittest.TestCase):
    def test_art_on_the_base_item_gives_the_oracle_figures(self):
        import art_adapter

        with tempfile.TemporaryDirectory() as d:
            out = pathlib.Path(d) / "r.json"
            args = ["--suite", str(SUITE_DIR / "suite.toml"), "--item", "base",
                    "--model", str(SUITE_DIR / "mlp_trained.safetensors"), "--out", str(out)]
            with contextlib.redirect_stdout(io.StringIO()):
                self.assertEqual(art_adapter.main(args), 0)
            doc = json.loads(out.read_text())
        got = {
            (r["test"], m["metric"]): m["values"][0]
            for r in doc["results"]
            for m in r["metrics"]
        }
        params = {r["test"]: r["parameters"] for r in doc["results"]}
        self.assertEqual(got[("fgsm-eps0.1", "robust_accuracy")], 0.286)
        self.assertEqual(got[("pgd-eps0.1", "robust_accuracy")], 0.228)
        self.assertEqual(round(got[("mia-loss-threshold", "auc")], 4), 0.5245)
        self.assertEqual(params["pgd-eps0.1"], {"eps": 0.1, "step": 0.025, "iterations": 10.0})
        self.assertEqual(doc["tool"]["name"], "adversarial-robustness-toolbox")


if __name__ == "__main__":
    unittest.main()
