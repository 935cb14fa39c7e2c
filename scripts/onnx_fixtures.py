#!/usr/bin/python3
"""Writes the PyTorch-exported ONNX fixtures of tests/Backprop.Functional.Tests/Interop/Fixtures.

Run with Debian's python3-torch (1.13; torch.onnx.export needs no `onnx` Python module there):
    /usr/bin/python3 scripts/onnx_fixtures.py
Each model NAME gets NAME.onnx (exported at opset 17 with a dynamic batch dimension, input "input", output "output")
and NAME.json: 16 input rows and PyTorch's float32 outputs for them, which the import tests compare against.
"""
import json
import os

import torch
from torch import nn

OUT = os.path.join(os.path.dirname(__file__), "..", "tests", "Backprop.Functional.Tests", "Interop", "Fixtures")


class MatMulAdd(nn.Module):
    """x @ W.T + b written out: PyTorch exports it as MatMul (weight transposed into a new initializer) + Add."""

    def __init__(self):
        super().__init__()
        self.hidden = nn.Linear(5, 4)
        self.out = nn.Linear(4, 2)

    def forward(self, x):
        h = torch.matmul(x, self.hidden.weight.t()) + self.hidden.bias
        h = nn.functional.gelu(h, approximate="tanh")
        return torch.matmul(h, self.out.weight.t()) + self.out.bias


def models():
    yield "torch_tanh_softmax", nn.Sequential(nn.Linear(6, 5), nn.Tanh(), nn.Linear(5, 3), nn.Softmax(dim=1)), 6
    yield "torch_activations", nn.Sequential(
        nn.Linear(5, 4), nn.LeakyReLU(), nn.Linear(4, 4), nn.Softplus(), nn.Linear(4, 4), nn.GELU(approximate="tanh"),
        nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 3), nn.Sigmoid()), 5
    yield "torch_matmul_add", MatMulAdd(), 5
    # Refused on import: the exact GELU (an Erf node) and ELU have no counterpart in the library.
    yield "torch_erf_gelu", nn.Sequential(nn.Linear(3, 3), nn.GELU(), nn.Linear(3, 2)), 3
    yield "torch_elu", nn.Sequential(nn.Linear(3, 3), nn.ELU(), nn.Linear(3, 2)), 3


def main():
    torch.manual_seed(17)
    os.makedirs(OUT, exist_ok=True)
    for name, model, inputs in models():
        model.eval()
        x = torch.randn(16, inputs) * 2
        path = os.path.join(OUT, name + ".onnx")
        torch.onnx.export(model, x[:1], path, input_names=["input"], output_names=["output"],
                          dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}}, opset_version=17)
        with torch.no_grad():
            y = model(x)
        with open(os.path.join(OUT, name + ".json"), "w") as f:
            json.dump({"torch": torch.__version__, "inputs": x.tolist(), "outputs": y.tolist()}, f)
        print(name, os.path.getsize(path), "bytes")


if __name__ == "__main__":
    main()
