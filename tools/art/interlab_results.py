"""Shared parts of the ART adapter and the oracle converter: reading the suite, choosing
the tests, the metrics with their uncertainties, and the `interlab-results/1` file.

Only the standard library and numpy. The format is the Rust type `Submission` in
reference-suites/src/submission.rs; the node checks every field again.

Uncertainty (standard uncertainty u of the single repetition the file reports):
- a proportion p over n rows (robust accuracy, clean accuracy, attack success rate over
  the clean-correct rows, TPR over the members): binomial, u = sqrt(p (1 - p) / n);
- ROC AUC: the Hanley-McNeil (1982) standard error,
  u^2 = (A(1-A) + (n1-1)(Q1-A^2) + (n0-1)(Q2-A^2)) / (n1 n0), Q1 = A/(2-A), Q2 = 2A^2/(1+A);
- max(TPR - FPR): the two binomial terms at the maximising threshold added in quadrature,
  u^2 = TPR(1-TPR)/n1 + FPR(1-FPR)/n0 (the choice of threshold is not counted, so this
  understates u somewhat).
These are closed forms; the reference engine uses row bootstraps instead, so the two u
differ a little (both are valid estimates of the same sampling spread).
"""

from __future__ import annotations

import json
import math
import pathlib
import sys
import tomllib

import numpy as np

FORMAT = "interlab-results/1"

# Test kinds this adapter computes, by the manifest's `params.kind`.
SUPPORTED_KINDS = ("fgsm", "pgd", "mia-loss", "mia-rule")


class AdapterError(Exception):
    """A problem the user can fix (wrong argument, suite without the test, ...)."""


# ---------------------------------------------------------------- suite


class Suite:
    """The parts of a suite.toml the adapters need."""

    def __init__(self, path: str | pathlib.Path):
        self.path = pathlib.Path(path)
        try:
            with open(self.path, "rb") as f:
                self.manifest = tomllib.load(f)
        except OSError as e:
            raise AdapterError(f"cannot read the suite manifest {self.path}: {e}") from e
        except tomllib.TOMLDecodeError as e:
            raise AdapterError(f"{self.path} is not valid TOML: {e}") from e
        self.dir = self.path.parent
        self.tests = self.manifest.get("tests", [])
        self.items = self.manifest.get("items", [])
        self.data_keys = self.manifest.get("data", {})

    def artefact_path(self, name: str) -> pathlib.Path:
        art = self.manifest.get("artefacts", {}).get(name)
        if art is None or "path" not in art:
            raise AdapterError(f"{self.path}: no artefact {name!r} with a path")
        return self.dir / art["path"]

    def data_path(self) -> pathlib.Path:
        return self.artefact_path(self.data_keys.get("artefact", "data"))

    def load_data(self) -> dict[str, np.ndarray]:
        from safetensors.numpy import load_file

        path = self.data_path()
        try:
            raw = load_file(str(path))
        except Exception as e:  # safetensors raises several types
            raise AdapterError(f"cannot read the suite data {path}: {e}") from e
        out = {}
        for key in ("x_train", "y_train", "x_test", "y_test"):
            name = self.data_keys.get(key, key)
            if name not in raw:
                raise AdapterError(f"{path} has no tensor {name!r} (the suite's {key})")
            out[key] = raw[name]
        return out

    def membership(self, item_id: str | None, data: dict) -> tuple:
        """(x_members, y_members, x_non_members, y_non_members) for membership inference:
        the item's declared `members` rows of x_train against the other training rows,
        or (by default) every training row against the test rows, as the engine does."""
        spec = self.item_spec(item_id) if item_id is not None else None
        x_train = data["x_train"].astype(np.float32).reshape(len(data["x_train"]), -1)
        y_train = data["y_train"].astype(np.int64)
        if spec is None or "members" not in spec:
            x_test = data["x_test"].astype(np.float32).reshape(len(data["x_test"]), -1)
            return x_train, y_train, x_test, data["y_test"].astype(np.int64)
        from safetensors.numpy import load_file

        ref = spec["members"]
        path = self.artefact_path(ref["artefact"])
        try:
            rows = load_file(str(path))[ref["tensor"]].astype(np.int64)
        except Exception as e:
            raise AdapterError(f"cannot read the members of item {item_id!r} from {path}: {e}") from e
        is_member = np.zeros(len(y_train), dtype=bool)
        is_member[rows] = True
        return x_train[is_member], y_train[is_member], x_train[~is_member], y_train[~is_member]

    def test(self, test_id: str) -> dict:
        for t in self.tests:
            if t.get("id") == test_id:
                return t
        raise AdapterError(f"{self.path} has no test {test_id!r}")

    def item_spec(self, item_id: str) -> dict | None:
        for it in self.items:
            if it.get("id") == item_id:
                return it
        return None

    def tests_for_item(
        self, item_id: str | None, kinds=SUPPORTED_KINDS
    ) -> tuple[list[dict], list[str]]:
        """The suite's tests of `kinds` that run on the item, and why others are skipped."""
        allowed = None
        if item_id is not None and self.items:
            spec = self.item_spec(item_id)
            if spec is None:
                ids = ", ".join(i.get("id", "?") for i in self.items)
                raise AdapterError(f"{self.path} has no item {item_id!r} (items: {ids})")
            if spec.get("tests"):
                allowed = set(spec["tests"])
        chosen, skipped = [], []
        for t in self.tests:
            p = t.get("params", {})
            kind = p.get("kind")
            if allowed is not None and t["id"] not in allowed:
                continue
            if kind in ("backdoor", "label-flip"):
                continue  # poisoning retrains the suite's init weights: not an item test
            if kind not in kinds:
                skipped.append(f"{t['id']} (kind {kind!r} is not computed by this adapter)")
                continue
            if kind == "pgd" and p.get("random_start", False):
                skipped.append(f"{t['id']} (random start is not computed by this adapter)")
                continue
            chosen.append(t)
        return chosen, skipped

    def check_model_file(self, item_id: str | None, model: str | pathlib.Path) -> None:
        """Refuses a model file that is not the item's (byte for byte), when the suite
        names the item's artefact and that file is present beside the manifest."""
        if item_id is None or not self.items:
            return
        spec = self.item_spec(item_id)
        if spec is None or "model" not in spec:
            return
        expected = self.artefact_path(spec["model"])
        if not expected.exists():
            return
        if pathlib.Path(model).read_bytes() != expected.read_bytes():
            raise AdapterError(
                f"{model} is not item {item_id!r}'s model ({expected}); "
                "pass the item's own model file"
            )


def item_field(suite: Suite, item: str | None) -> str | None:
    """The item id to write. A suite without [[items]] takes none; say so."""
    if item is not None and not suite.items:
        print(
            f"note: {suite.path} declares no [[items]]; `interlab submit` accepts an item id "
            "only for suites with items (use --no-item for this suite)",
            file=sys.stderr,
        )
    return item


# ---------------------------------------------------------------- metrics


def proportion(hits: np.ndarray) -> tuple[float, float, int]:
    """Share of true flags, its binomial standard uncertainty sqrt(p(1-p)/n), and n."""
    hits = np.asarray(hits, dtype=bool)
    n = int(hits.size)
    if n == 0:
        return 0.0, 0.0, 0
    p = float(hits.sum()) / n
    return p, math.sqrt(p * (1.0 - p) / n), n


def evasion_metrics(y: np.ndarray, clean_pred: np.ndarray, adv_pred: np.ndarray) -> list[dict]:
    """robust_accuracy, attack_success_rate (among rows correct before the attack; 0 when
    none is), clean_accuracy, as the reference engine defines them."""
    y = np.asarray(y).astype(np.int64)
    clean_ok = np.asarray(clean_pred).astype(np.int64) == y
    adv_ok = np.asarray(adv_pred).astype(np.int64) == y
    ra, ra_u, _ = proportion(adv_ok)
    asr, asr_u, _ = proportion(~adv_ok[clean_ok])
    ca, ca_u, _ = proportion(clean_ok)
    return [
        metric("robust_accuracy", ra, ra_u),
        metric("attack_success_rate", asr, asr_u),
        metric("clean_accuracy", ca, ca_u),
    ]


def roc(members: np.ndarray, non_members: np.ndarray) -> dict:
    """ROC of a score where higher means member: AUC by trapezoids over tied groups (ties
    count 1/2), largest TPR at FPR <= 1 % and <= 0.1 %, max(TPR - FPR) with its TPR, FPR."""
    m = np.asarray(members, dtype=np.float64)
    nm = np.asarray(non_members, dtype=np.float64)
    if m.size == 0 or nm.size == 0:
        raise AdapterError("membership inference needs members and non-members")
    if not (np.isfinite(m).all() and np.isfinite(nm).all()):
        raise AdapterError("membership scores must be finite")
    n1, n0 = m.size, nm.size
    scores = np.concatenate([m, nm])
    is_member = np.concatenate([np.ones(n1, bool), np.zeros(n0, bool)])
    order = np.argsort(-scores, kind="stable")
    s, lab = scores[order], is_member[order]
    # Last index of each group of equal scores: thresholds between groups.
    ends = np.flatnonzero(np.append(s[1:] != s[:-1], True))
    tp = np.cumsum(lab)[ends]
    fp = np.cumsum(~lab)[ends]
    tpr = np.concatenate([[0.0], tp / n1])
    fpr = np.concatenate([[0.0], fp / n0])
    auc = float(np.sum((fpr[1:] - fpr[:-1]) * (tpr[1:] + tpr[:-1])) / 2.0)
    adv = tpr - fpr
    best = int(np.argmax(adv))
    return {
        "auc": auc,
        "tpr_at_fpr_1pct": float(tpr[fpr <= 0.01].max()),
        "tpr_at_fpr_0_1pct": float(tpr[fpr <= 0.001].max()),
        "max_advantage": float(adv[best]),
        "adv_tpr": float(tpr[best]),
        "adv_fpr": float(fpr[best]),
        "n1": n1,
        "n0": n0,
    }


def hanley_mcneil(auc: float, n1: int, n0: int) -> float:
    """Hanley & McNeil (1982) standard error of a ROC AUC from n1 positives, n0 negatives."""
    q1 = auc / (2.0 - auc)
    q2 = 2.0 * auc * auc / (1.0 + auc)
    var = (auc * (1 - auc) + (n1 - 1) * (q1 - auc * auc) + (n0 - 1) * (q2 - auc * auc)) / (
        n1 * n0
    )
    return math.sqrt(max(var, 0.0))


def mia_metrics(loss_members: np.ndarray, loss_non_members: np.ndarray) -> tuple[list[dict], dict]:
    """Loss-threshold membership inference: score = -CE loss."""
    r = roc(-np.asarray(loss_members, np.float64), -np.asarray(loss_non_members, np.float64))
    n1, n0 = r["n1"], r["n0"]

    def binom(p: float, n: int) -> float:
        return math.sqrt(p * (1 - p) / n)

    adv_u = math.sqrt(binom(r["adv_tpr"], n1) ** 2 + binom(r["adv_fpr"], n0) ** 2)
    return [
        metric("auc", r["auc"], hanley_mcneil(r["auc"], n1, n0)),
        metric("tpr_at_fpr_1pct", r["tpr_at_fpr_1pct"], binom(r["tpr_at_fpr_1pct"], n1)),
        metric("tpr_at_fpr_0_1pct", r["tpr_at_fpr_0_1pct"], binom(r["tpr_at_fpr_0_1pct"], n1)),
        metric("max_advantage", r["max_advantage"], adv_u),
    ], r


def metric(name: str, value: float, u: float) -> dict:
    return {"metric": name, "values": [float(value)], "u": float(u)}


# ---------------------------------------------------------------- file


def result_entry(
    item: str | None, test: str, parameters: dict, metrics: list[dict], deviations=()
) -> dict:
    entry: dict = {}
    if item is not None:
        entry["item"] = item
    entry["test"] = test
    entry["parameters"] = {k: float(v) for k, v in parameters.items()}
    entry["deviations"] = list(deviations)
    entry["metrics"] = metrics
    return entry


def submission(tool_version: str, environment: dict, results: list[dict], seed=None) -> dict:
    out = {
        "format": FORMAT,
        "tool": {"name": "adversarial-robustness-toolbox", "version": tool_version},
        "environment": environment,
    }
    if seed is not None:
        out["seed"] = int(seed)
    out["results"] = results
    return out


def write(path: str | pathlib.Path, doc: dict) -> None:
    text = json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
    pathlib.Path(path).write_text(text, encoding="utf-8")


def summary_line(entry: dict) -> str:
    parts = [f"{m['metric']} {m['values'][0]:.4f} (u {m['u']:.4f})" for m in entry["metrics"]]
    return f"{entry.get('item') or '-'} {entry['test']}: " + ", ".join(parts)


def rule_metrics(member_flagged: np.ndarray, non_member_flagged: np.ndarray) -> list[dict]:
    """Rule-based membership inference (member <=> classified correctly), as the engine
    defines it: accuracy over all rows, balanced accuracy (TPR + TNR) / 2, advantage
    TPR - FPR. u: binomial; the balanced accuracy and advantage add the two binomial
    terms in quadrature (halved for the balanced accuracy)."""
    m = np.asarray(member_flagged, bool)
    nm = np.asarray(non_member_flagged, bool)
    n1, n0 = m.size, nm.size
    if n1 == 0 or n0 == 0:
        raise AdapterError("membership inference needs members and non-members")
    tpr, tpr_u, _ = proportion(m)
    fpr, fpr_u, _ = proportion(nm)
    acc, acc_u, _ = proportion(np.concatenate([m, ~nm]))
    both = math.sqrt(tpr_u**2 + fpr_u**2)
    return [
        metric("accuracy", acc, acc_u),
        metric("balanced_accuracy", (tpr + 1.0 - fpr) / 2.0, both / 2.0),
        metric("advantage", tpr - fpr, both),
    ]
