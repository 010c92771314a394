#!/usr/bin/env python3
"""Builds an `interlab-results/1` file from outputs that real IBM ART 1.20.1 runs already
produced (PyTorch 2.15, CPU; shared/oracle/ml/README.md), without running ART.

Inputs: the suite's data (y_test, x_test) and model, and a safetensors file of ART outputs
with `fgsm_eps0.1_pred`, `pgd_eps0.1_pred` (ART's predictions on its adversarial test rows),
`loss_train`, `loss_test` (per-row CE losses for the loss-threshold membership attack) and
`logits_test` (clean logits). Before writing anything the script recomputes the clean
logits of the given model with numpy and refuses outputs that belong to another model.

Only numpy and safetensors. Metrics and uncertainties: see interlab_results.py.

    python3 tools/art/results_from_oracle.py \
        --suite reference-suites/suites/digits-mlp/suite.toml --item base \
        --model reference-suites/suites/digits-mlp/mlp_trained.safetensors \
        --outputs reference-suites/tests/data/art_outputs_shared.safetensors \
        --out reference-suites/suites/digits-mlp/art/base-art-1.20.1.json
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

import interlab_results as ir

# What the oracle runs were, as shared/oracle/ml/README.md states them.
ORACLE_TOOL_VERSION = "1.20.1"
ORACLE_PARAMS = {
    "fgsm": {"eps": 0.1},
    "pgd": {"eps": 0.1, "step": 0.025, "iterations": 10},
}
ORACLE_PRED_TENSOR = {"fgsm": "fgsm_eps0.1_pred", "pgd": "pgd_eps0.1_pred"}
ORACLE_ENVIRONMENT = {
    "hardware": "CPU (model not recorded by the oracle run)",
    "os": "not recorded by the oracle run",
    "software": [
        {"name": "adversarial-robustness-toolbox", "version": "1.20.1"},
        {"name": "torch", "version": "2.15 (CPU)"},
    ],
}


def forward(weights: dict[str, np.ndarray], x: np.ndarray) -> np.ndarray:
    """Linear -> ReLU -> Linear in PyTorch layout (y = x W^T + b), float32."""
    h = np.maximum(x @ weights["fc1.weight"].T + weights["fc1.bias"], 0.0)
    return h @ weights["fc2.weight"].T + weights["fc2.bias"]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--suite", required=True, help="the suite's suite.toml")
    g = ap.add_mutually_exclusive_group(required=True)
    g.add_argument("--item", help="the suite item id the outputs were computed on")
    g.add_argument("--no-item", action="store_true", help="for a suite without [[items]]")
    ap.add_argument("--model", required=True, help="the item's model (safetensors)")
    ap.add_argument("--outputs", required=True, help="ART outputs (safetensors)")
    ap.add_argument("--out", required=True, help="results file to write")
    a = ap.parse_args(argv)

    from safetensors.numpy import load_file

    try:
        suite = ir.Suite(a.suite)
        item = None if a.no_item else a.item
        suite.check_model_file(item, a.model)
        tests, skipped = suite.tests_for_item(item, kinds=("fgsm", "pgd", "mia-loss"))
        data = suite.load_data()
        try:
            weights = load_file(a.model)
            outs = load_file(a.outputs)
        except Exception as e:
            raise ir.AdapterError(f"cannot read a safetensors file: {e}") from e
        for k in ("fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"):
            if k not in weights:
                raise ir.AdapterError(f"{a.model} has no tensor {k!r}")
        need = ["logits_test", "loss_train", "loss_test", *ORACLE_PRED_TENSOR.values()]
        missing = [k for k in need if k not in outs]
        if missing:
            raise ir.AdapterError(f"{a.outputs} lacks {', '.join(missing)}")

        y_test = data["y_test"]
        logits = forward(weights, data["x_test"].astype(np.float32))
        gap = float(np.abs(logits - outs["logits_test"]).max())
        if gap > 1e-4 or not np.array_equal(logits.argmax(1), outs["logits_test"].argmax(1)):
            raise ir.AdapterError(
                f"the outputs in {a.outputs} are not of {a.model}: clean logits differ by {gap:g}"
            )
        clean_pred = outs["logits_test"].argmax(1)
        if outs["loss_train"].shape[0] != data["y_train"].shape[0] or outs["loss_test"].shape[
            0
        ] != y_test.shape[0]:
            raise ir.AdapterError("the losses do not have one value per train / test row")

        item = ir.item_field(suite, item)
        results = []
        for t in tests:
            kind = t["params"]["kind"]
            if kind in ORACLE_PRED_TENSOR:
                m = ir.evasion_metrics(y_test, clean_pred, outs[ORACLE_PRED_TENSOR[kind]])
                results.append(ir.result_entry(item, t["id"], ORACLE_PARAMS[kind], m))
            elif kind == "mia-loss":
                m, _ = ir.mia_metrics(outs["loss_train"], outs["loss_test"])
                results.append(ir.result_entry(item, t["id"], {}, m))
        if not results:
            raise ir.AdapterError("no test of this suite and item is computed here")
    except ir.AdapterError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2

    ir.write(a.out, ir.submission(ORACLE_TOOL_VERSION, ORACLE_ENVIRONMENT, results))
    print(f"clean logits match the model (max |difference| {gap:.2e})")
    for r in results:
        print(ir.summary_line(r))
    for s in skipped:
        print(f"skipped: {s}")
    print(f"wrote {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
