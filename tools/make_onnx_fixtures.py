"""Writes the small ONNX fixtures of reference-suites/tests/oracle/ops/ with torch's
legacy TorchScript exporter (torch.onnx.export(..., dynamo=False)), plus torch's logits
on fixed inputs. Usage: /work/art-venv/bin/python tools/make_onnx_fixtures.py OUT_DIR"""

import sys

import torch
from safetensors.torch import save_file

out = sys.argv[1]
torch.manual_seed(0)
torch.set_num_threads(1)


class Simple(torch.nn.Module):
    """Conv, Relu, BatchNormalization, MaxPool with pads, AveragePool (count_include_pad 0),
    GlobalAveragePool, Add of activations, Dropout, Reshape, Flatten, MatMul+Add, Gemm and a
    trailing Softmax."""

    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(2, 4, 3, padding=1)
        self.bn = torch.nn.BatchNorm2d(4)
        self.pool = torch.nn.MaxPool2d(2, padding=1)
        self.avg = torch.nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False)
        self.conv2 = torch.nn.Conv2d(4, 4, 1)
        self.drop = torch.nn.Dropout(0.5)
        self.w = torch.nn.Parameter(torch.randn(4 * 4 * 4, 8) * 0.2)
        self.b = torch.nn.Parameter(torch.randn(8) * 0.1)
        self.fc = torch.nn.Linear(8, 5)
        self.gfc = torch.nn.Linear(4, 5)

    def forward(self, x):
        h = self.bn(torch.relu(self.conv(x)))
        h = self.pool(h)  # 7x7 -> 4x4
        h = h + self.conv2(self.avg(h))
        g = torch.flatten(torch.nn.functional.adaptive_avg_pool2d(h, 1), 1)
        f = self.drop(h).reshape(-1, 64)
        f = torch.relu(f @ self.w + self.b)
        return torch.softmax(self.fc(f) + self.gfc(g), 1)


m = Simple()
with torch.no_grad():
    m.bn.running_mean.copy_(torch.randn(4) * 0.1)
    m.bn.running_var.copy_(torch.rand(4) + 0.5)
    m.bn.weight.copy_(torch.rand(4) + 0.5)
    m.bn.bias.copy_(torch.randn(4) * 0.1)
m.eval()
x = torch.rand(6, 2, 7, 7)
torch.onnx.export(m, (x,), f"{out}/all_ops.onnx", input_names=["input"], output_names=["probs"],
                  dynamic_axes={"input": {0: "batch"}, "probs": {0: "batch"}}, opset_version=17,
                  dynamo=False)
with torch.no_grad():
    # Pre-softmax logits: the forward without the softmax.
    h = m.bn(torch.relu(m.conv(x)))
    h = m.pool(h)
    h = h + m.conv2(m.avg(h))
    g = torch.flatten(torch.nn.functional.adaptive_avg_pool2d(h, 1), 1)
    f = torch.relu(torch.flatten(h, 1) @ m.w + m.b)
    raw = m.fc(f) + m.gfc(g)
xr = x.clone().requires_grad_(True)
h = m.bn(torch.relu(m.conv(xr)))
h = m.pool(h)
h = h + m.conv2(m.avg(h))
g = torch.flatten(torch.nn.functional.adaptive_avg_pool2d(h, 1), 1)
f = torch.relu(torch.flatten(h, 1) @ m.w + m.b)
y = torch.tensor([0, 1, 2, 3, 4, 0])
loss = torch.nn.functional.cross_entropy(m.fc(f) + m.gfc(g), y, reduction="sum")
loss.backward()
save_file({"x": x.contiguous(), "y": y, "logits": raw.contiguous(), "input_grad": xr.grad.contiguous()},
          f"{out}/all_ops_expected.safetensors")
print("ok", raw.shape)
