#!/usr/bin/env python3
"""The ART side of `interlab bench attack`: PGD L-inf with IBM ART 1.20.1 on PyTorch CPU,
on the same model (a PyTorch nn.Sequential state dict plus the engine's architecture
JSON) and the same rows. Prints one JSON line: robust accuracy, correct rows, the time
inside the script after imports, and the peak RSS (getrusage).

    python tools/bench_art_pgd.py --state-dict cnn_a.safetensors --arch cnn_a.arch.json \
        --data data_test.safetensors --threads 1 --eps 0.1 --step 0.025 --iterations 10

The whole-process time and peak memory are measured from outside by the bench command
(/usr/bin/time), so imports count, as they do for a lab running ART.
"""

import argparse
import json
import resource
import time

parser = argparse.ArgumentParser()
parser.add_argument("--state-dict", required=True)
parser.add_argument("--arch", required=True)
parser.add_argument("--data", required=True)
parser.add_argument("--threads", type=int, default=1)
parser.add_argument("--eps", type=float, default=0.1)
parser.add_argument("--step", type=float, default=0.025)
parser.add_argument("--iterations", type=int, default=10)
args = parser.parse_args()

import numpy as np  # noqa: E402
import torch  # noqa: E402
from art.attacks.evasion import ProjectedGradientDescent  # noqa: E402
from art.estimators.classification import PyTorchClassifier  # noqa: E402
from safetensors.numpy import load_file  # noqa: E402
from safetensors.torch import load_file as load_torch  # noqa: E402

t0 = time.perf_counter()
torch.set_num_threads(args.threads)
spec = json.load(open(args.arch))
state = load_torch(args.state_dict)
layers = []
shape = list(spec["input_shape"])
for i, layer in enumerate(spec["layers"]):
    kind = layer["type"]
    if kind == "conv2d":
        w = state[f"{i}.weight"]
        m = torch.nn.Conv2d(w.shape[1], w.shape[0], tuple(w.shape[2:]), padding=layer.get("padding", 0))
    elif kind == "linear":
        w = state[f"{i}.weight"]
        m = torch.nn.Linear(w.shape[1], w.shape[0])
    elif kind == "relu":
        m = torch.nn.ReLU()
    elif kind == "maxpool2d":
        m = torch.nn.MaxPool2d(layer["kernel"])
    elif kind == "avgpool2d":
        m = torch.nn.AvgPool2d(layer["kernel"])
    elif kind == "flatten":
        m = torch.nn.Flatten()
    else:
        raise SystemExit(f"unknown layer type {kind}")
    layers.append(m)
model = torch.nn.Sequential(*layers)
model.load_state_dict(state)
model.eval()

data = load_file(args.data)
x, y = data["x_test"].astype(np.float32), data["y_test"].astype(np.int64)
classes = int(model(torch.from_numpy(x[:1])).shape[1])
clf = PyTorchClassifier(model, loss=torch.nn.CrossEntropyLoss(), input_shape=tuple(shape),
                        nb_classes=classes, clip_values=(0.0, 1.0), device_type="cpu")
onehot = np.eye(classes, dtype=np.float32)[y]
attack = ProjectedGradientDescent(clf, norm=np.inf, eps=args.eps, eps_step=args.step,
                                  max_iter=args.iterations, num_random_init=0, batch_size=128,
                                  random_eps=False, verbose=False)
x_adv = attack.generate(x, y=onehot)
pred = clf.predict(x_adv, batch_size=128).argmax(1)
correct = int((pred == y).sum())
print(json.dumps({
    "n": len(y),
    "correct": correct,
    "robust_accuracy": correct / len(y),
    "seconds_after_imports": time.perf_counter() - t0,
    "peak_rss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
}))
