#!/usr/bin/env python3
"""Runs IBM Adversarial Robustness Toolbox (ART) on one item of an Interlab suite and
writes the results as an `interlab-results/1` file for `interlab submit`.

Tests computed (the suite's tests of these kinds that run on the item):
- fgsm: ART FastGradientMethod, L-inf, eps from the suite, true labels;
- pgd (without random start): ART ProjectedGradientDescent, L-inf, eps, step (eps_step)
  and iterations (max_iter) from the suite, num_random_init=0, true labels;
- mia-loss: loss-threshold membership inference, score = -CE loss from ART's
  `compute_loss(reduction="none")`; members = the suite's x_train, non-members = x_test
  (or, for an item that declares `members`, those training rows against the others);
  ROC summary computed here (ART has no loss-threshold attack; see interlab_results.roc);
- mia-rule: ART MembershipInferenceBlackBoxRuleBased (member <=> classified correctly).
The classifier is ART's PyTorchClassifier with clip_values (0, 1) on the CPU.

Uncertainty: a proportion p over n rows has u = sqrt(p (1 - p) / n); the ROC AUC has the
Hanley-McNeil standard error; see interlab_results.py for every metric.

    python tools/art/art_adapter.py --suite reference-suites/suites/digits-mlp/suite.toml \
        --item base --model reference-suites/suites/digits-mlp/mlp_trained.safetensors \
        --out results.json
"""

from __future__ import annotations

import argparse
import os
import platform
import sys

import numpy as np

import interlab_results as ir

MODEL_KEYS = ("fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias")


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return f"{line.split(':', 1)[1].strip()} ({os.cpu_count()} cores)"
    except OSError:
        pass
    return f"{platform.machine() or 'unknown'} CPU ({os.cpu_count()} cores)"


def load_mlp(path: str, inputs: int, classes: int):
    """Linear -> ReLU -> Linear from safetensors in PyTorch layout (fc1.*, fc2.*)."""
    import torch
    from safetensors.numpy import load_file

    try:
        w = load_file(path)
    except Exception as e:
        raise ir.AdapterError(f"cannot read the model {path}: {e}") from e
    missing = [k for k in MODEL_KEYS if k not in w]
    if missing:
        raise ir.AdapterError(f"{path} lacks {', '.join(missing)}: not a two-layer MLP")
    hidden, n_in = w["fc1.weight"].shape
    n_out, h2 = w["fc2.weight"].shape
    if n_in != inputs or n_out != classes or h2 != hidden:
        raise ir.AdapterError(
            f"{path}: layers {n_in}->{hidden}->{n_out} (given {h2}) do not fit the suite's "
            f"{inputs} inputs and {classes} classes"
        )

    class Mlp(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1 = torch.nn.Linear(n_in, hidden)
            self.fc2 = torch.nn.Linear(hidden, n_out)

        def forward(self, x):
            return self.fc2(torch.relu(self.fc1(x)))

    model = Mlp()
    model.load_state_dict({k: torch.from_numpy(np.ascontiguousarray(w[k])) for k in MODEL_KEYS})
    model.eval()
    return model


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--suite", required=True, help="the suite's suite.toml")
    g = ap.add_mutually_exclusive_group(required=True)
    g.add_argument("--item", help="the suite item id the model file is")
    g.add_argument("--no-item", action="store_true", help="for a suite without [[items]]")
    ap.add_argument("--model", required=True, help="the item's model (safetensors)")
    ap.add_argument("--out", required=True, help="results file to write")
    ap.add_argument(
        "--batch-size", type=int, default=128, help="ART attack batch size (default 128)"
    )
    a = ap.parse_args(argv)

    try:
        suite = ir.Suite(a.suite)
        item = None if a.no_item else a.item
        suite.check_model_file(item, a.model)
        tests, skipped = suite.tests_for_item(item)
        if not tests:
            raise ir.AdapterError("no test of this suite and item is computed by this adapter")
        data = suite.load_data()
        item = ir.item_field(suite, item)
        results, env = run(suite, tests, data, a, item)
    except ir.AdapterError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2

    import art

    ir.write(a.out, ir.submission(art.__version__, env, results))
    for r in results:
        print(ir.summary_line(r))
    for s in skipped:
        print(f"skipped: {s}")
    print(f"wrote {a.out}")
    return 0


def run(suite: ir.Suite, tests: list[dict], data: dict, a, item):
    import art
    import safetensors
    import torch
    from art.attacks.evasion import FastGradientMethod, ProjectedGradientDescent
    from art.attacks.inference.membership_inference import MembershipInferenceBlackBoxRuleBased
    from art.estimators.classification import PyTorchClassifier

    x_test = data["x_test"].astype(np.float32).reshape(len(data["x_test"]), -1)
    x_train = data["x_train"].astype(np.float32).reshape(len(data["x_train"]), -1)
    y_test = data["y_test"].astype(np.int64)
    y_train = data["y_train"].astype(np.int64)
    classes = int(suite.data_keys.get("classes", int(y_test.max()) + 1))
    lo, hi = suite.data_keys.get("range", [0.0, 1.0])
    inputs = x_test.shape[1]

    model = load_mlp(a.model, inputs, classes)
    clf = PyTorchClassifier(
        model=model,
        loss=torch.nn.CrossEntropyLoss(),
        input_shape=(inputs,),
        nb_classes=classes,
        clip_values=(float(lo), float(hi)),
        device_type="cpu",
    )
    clean_pred = clf.predict(x_test, batch_size=a.batch_size).argmax(1)

    results = []
    for t in tests:
        p = t["params"]
        kind = p["kind"]
        if kind == "fgsm":
            atk = FastGradientMethod(
                clf, norm=np.inf, eps=float(p["eps"]), targeted=False,
                num_random_init=0, batch_size=a.batch_size,
            )
            x_adv = atk.generate(x=x_test, y=y_test)
            used = {"eps": atk.eps}
        elif kind == "pgd":
            atk = ProjectedGradientDescent(
                clf, norm=np.inf, eps=float(p["eps"]), eps_step=float(p["step"]),
                max_iter=int(p["iterations"]), targeted=False, num_random_init=0,
                batch_size=a.batch_size, verbose=False,
            )
            x_adv = atk.generate(x=x_test, y=y_test)
            used = {"eps": atk.eps, "step": atk.eps_step, "iterations": atk.max_iter}
        elif kind == "mia-loss":
            xm, ym, xn, yn = suite.membership(item, data)
            lm = clf.compute_loss(xm, ym, reduction="none")
            ln = clf.compute_loss(xn, yn, reduction="none")
            m, _ = ir.mia_metrics(np.asarray(lm), np.asarray(ln))
            results.append(ir.result_entry(item, t["id"], {}, m))
            continue
        elif kind == "mia-rule":
            atk = MembershipInferenceBlackBoxRuleBased(clf)
            xm, ym, xn, yn = suite.membership(item, data)
            fm = atk.infer(xm, ym).astype(bool).ravel()
            fn = atk.infer(xn, yn).astype(bool).ravel()
            results.append(ir.result_entry(item, t["id"], {}, ir.rule_metrics(fm, fn)))
            continue
        else:  # tests_for_item only returns the kinds above
            continue
        adv_pred = clf.predict(x_adv, batch_size=a.batch_size).argmax(1)
        m = ir.evasion_metrics(y_test, clean_pred, adv_pred)
        results.append(ir.result_entry(item, t["id"], used, m))

    env = {
        "hardware": cpu_name(),
        "os": platform.platform(),
        "software": [
            {"name": "python", "version": platform.python_version()},
            {"name": "adversarial-robustness-toolbox", "version": art.__version__},
            {"name": "torch", "version": torch.__version__},
            {"name": "numpy", "version": np.__version__},
            {"name": "safetensors", "version": safetensors.__version__},
        ],
        "threads": int(torch.get_num_threads()),
    }
    return results, env


if __name__ == "__main__":
    sys.exit(main())
