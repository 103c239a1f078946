"""Exports ONNX files for the importer's tests, with torchvision's own counts beside them.

Run by OnnxImportTests with Debian's /usr/bin/python3 (python3-torch, python3-torchvision; model
definitions only, no weights are downloaded): writes OUT/<name>.onnx and OUT/counts.json, where each
model's params are torchvision's (sum of parameter sizes) and its MACs come from forward hooks on every
Conv2d and Linear (multiply-accumulates per image, the usual convention). "ops" is a small model of the
operators the torchvision models do not use (Pad, Resize, Softmax, ReduceMean, MatMul + Add, Reshape,
HardSigmoid, Identity-producing weight sharing).
"""
import json
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision.models as models


class Ops(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 16, 3, stride=2, padding=0, bias=False)
        self.bn = nn.BatchNorm2d(16)
        self.pw = nn.Conv2d(16, 32, 1)
        self.dw = nn.Conv2d(32, 32, 5, padding=4, dilation=2, groups=32)
        self.gc = nn.Conv2d(32, 32, 3, padding=1, groups=4)
        self.head = nn.Linear(32, 10)
        self.proj = nn.Parameter(torch.randn(10, 12))
        self.bias = nn.Parameter(torch.randn(12))

    def forward(self, x):
        x = F.pad(x, (1, 1, 1, 1))
        x = F.relu6(self.bn(self.stem(x)))
        y = F.hardsigmoid(self.pw(x))
        y = self.dw(y)
        y = F.interpolate(y, scale_factor=2.0, mode="nearest")
        y = F.max_pool2d(y, 2)
        y = self.gc(y) + y
        y = torch.sigmoid(y) * y
        y = y.mean(dim=(2, 3))
        y = self.head(y)
        y = y.reshape(1, 10)
        y = torch.matmul(y, self.proj) + self.bias
        return F.softmax(y, dim=1)


def count(model, shape):
    macs = [0]

    def conv(m, i, o):
        macs[0] += o.numel() // o.shape[0] * (m.in_channels // m.groups) * m.kernel_size[0] * m.kernel_size[1]

    def linear(m, i, o):
        macs[0] += o.numel() // o.shape[0] * m.in_features

    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            m.register_forward_hook(conv)
        elif isinstance(m, nn.Linear):
            m.register_forward_hook(linear)
    with torch.no_grad():
        model(torch.zeros(*shape))
    extra = sum(p.numel() for n, p in model.named_parameters(recurse=False))
    if extra:  # a bare matmul by a parameter: its MACs
        macs[0] += model.proj.numel()
    return sum(p.numel() for p in model.parameters()), macs[0]


def main(out):
    torch.manual_seed(0)
    built = {
        "resnet18": (lambda: models.resnet18(), (1, 3, 224, 224)),
        "mobilenet_v2": (lambda: models.mobilenet_v2(), (1, 3, 224, 224)),
        "mobilenet_v3_small": (lambda: models.mobilenet_v3_small(), (1, 3, 224, 224)),
        "squeezenet1_1": (lambda: models.squeezenet1_1(), (1, 3, 224, 224)),
        "efficientnet_b0": (lambda: models.efficientnet_b0(), (1, 3, 224, 224)),
        "ops": (lambda: Ops(), (1, 3, 64, 64)),
    }
    counts = {}
    for name, (make, shape) in built.items():
        model = make().eval()
        params, macs = count(model, shape)
        torch.onnx.export(model, torch.zeros(*shape), f"{out}/{name}.onnx", opset_version=14,
                          input_names=["image"], output_names=["logits"], do_constant_folding=True)
        counts[name] = {"params": params, "macs": macs, "input": list(shape)}
    with open(f"{out}/counts.json", "w") as f:
        json.dump(counts, f, indent=1)


if __name__ == "__main__":
    main(sys.argv[1])
