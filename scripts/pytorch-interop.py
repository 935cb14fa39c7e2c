#!/usr/bin/python3
"""Runs the PyTorch side of docs/deployment.md ("Moving weights to and from PyTorch") and keeps what it writes as the
fixtures of tests/Backprop.Functional.Tests/Interop/PyTorchInteropTests.cs (Interop/Fixtures/PyTorch), so the C# tests
need no Python:

    /usr/bin/python3 scripts/pytorch-interop.py

1. Reads the ```python block that follows the line `<!-- scripts/pytorch-interop.py runs this block -->` in
   docs/deployment.md and runs it, as it stands, in the fixture folder (torch seeded with 17). That block writes
   mlp.safetensors, mlp.onnx (torch.onnx.export), lstm.safetensors and gru.safetensors for the library to load, and
   loads dense.safetensors and rows.safetensors, which the library wrote (ModelFile.Save; PyTorchInteropTests checks
   they are its bytes and makes them with BACKPROP_WRITE_PYTORCH_FIXTURES=1), into PyTorch modules.
2. Runs every model in PyTorch (float32) on seeded random inputs and writes pytorch.json: for each model its file, the
   input shape, the inputs and PyTorch's outputs, plus the SHA-256 of the block it ran. The C# tests load each file
   with the library, compare its outputs with PyTorch's (≤ 1e-5 relative) and check the hash against the block now in
   the doc, so a changed snippet whose fixtures were not remade fails.

Needs Debian's python3-torch (1.13; torch.onnx.export needs no `onnx` module there). The snippet imports
`safetensors.torch`, which Debian does not package and CI cannot install: where it is missing, a stand-in with the same
`save_file`/`load_file` is put in its place (below: the header as the real writer lays it out, the metadata first, then
the tensors sorted by name, compact JSON padded with spaces to 8 bytes, data little-endian and contiguous). With the
real package installed the block runs on it.
"""
import hashlib
import json
import os
import re
import struct
import sys
import types

import torch

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
DOC = os.path.join(ROOT, "docs", "deployment.md")
OUT = os.path.join(ROOT, "tests", "Backprop.Functional.Tests", "Interop", "Fixtures", "PyTorch")
MARKER = "<!-- scripts/pytorch-interop.py runs this block -->"


def snippet():
    """The doc's block after MARKER, lines joined with \\n (the text the C# test hashes the same way)."""
    with open(DOC, encoding="utf-8") as f:
        text = f.read().replace("\r\n", "\n")
    m = re.search(re.escape(MARKER) + r"\n```python\n(.*?)\n```\n", text, re.S)
    if m is None:
        sys.exit(f"{DOC}: no ```python block after {MARKER}")
    return m.group(1)


_DTYPES = {torch.float32: ("F32", 4), torch.float64: ("F64", 8)}


def _save_file(tensors, filename, metadata=None):
    header, data, offset = {}, [], 0
    if metadata is not None:
        header["__metadata__"] = dict(metadata)
    for name in sorted(tensors, key=lambda n: (-_DTYPES[tensors[n].dtype][1], n)):
        t = tensors[name].detach().contiguous().cpu()
        raw = t.numpy().astype(t.numpy().dtype.newbyteorder("<")).tobytes()
        header[name] = {"dtype": _DTYPES[t.dtype][0], "shape": list(t.shape), "data_offsets": [offset, offset + len(raw)]}
        data.append(raw)
        offset += len(raw)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-(8 + len(text)) % 8)
    with open(filename, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(data))


def _load_file(filename):
    with open(filename, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack_from("<Q", raw)
    header = json.loads(raw[8:8 + n])
    header.pop("__metadata__", None)
    start, out = 8 + n, {}
    for name, e in header.items():
        dtype = {"F32": torch.float32, "F64": torch.float64}[e["dtype"]]
        b, end = e["data_offsets"]
        out[name] = torch.frombuffer(bytearray(raw[start + b:start + end]), dtype=dtype).reshape(e["shape"])
    return out


def ensure_safetensors():
    """Which safetensors the block gets: the real package, or the stand-in above."""
    try:
        import safetensors.torch  # noqa: F401
        return "safetensors " + sys.modules["safetensors"].__version__
    except ImportError:
        package, module = types.ModuleType("safetensors"), types.ModuleType("safetensors.torch")
        module.save_file, module.load_file = _save_file, _load_file
        package.torch = module
        sys.modules["safetensors"], sys.modules["safetensors.torch"] = package, module
        return "the stand-in in scripts/pytorch-interop.py (no safetensors package)"


def case(file, model, shape, gen):
    x = torch.randn(*shape, generator=gen) * 2
    with torch.no_grad():
        y = model(x)
    return {"file": file, "shape": list(shape), "inputs": x.flatten().tolist(), "outputs": y.flatten().tolist()}


def main():
    os.makedirs(OUT, exist_ok=True)
    for ours in ("dense.safetensors", "rows.safetensors"):
        if not os.path.exists(os.path.join(OUT, ours)):
            sys.exit(f"{OUT}/{ours} is missing: write it first with BACKPROP_WRITE_PYTORCH_FIXTURES=1 dotnet test "
                     "tests/Backprop.Functional.Tests -c Release --filter FullyQualifiedName~PyTorchInteropTests")
    writer = ensure_safetensors()
    code = snippet()
    torch.manual_seed(17)
    scope = {}
    cwd = os.getcwd()
    os.chdir(OUT)
    try:
        exec(compile(code, DOC + " (the block after " + MARKER + ")", "exec"), scope)
    finally:
        os.chdir(cwd)

    g = scope  # the block's modules, by the names the doc gives them
    last = lambda rnn, head: lambda x: head(rnn(x)[0][:, -1])          # a head on the state after the last step
    gen = torch.Generator().manual_seed(1717)
    cases = {
        "mlp": case("mlp.safetensors", g["mlp"], (16, 6), gen),
        "lstm": case("lstm.safetensors", last(g["lstm"], g["lstm_head"]), (16, 7, 4), gen),
        "gru": case("gru.safetensors", lambda x: torch.softmax(last(g["gru"], g["gru_head"])(x), dim=1), (16, 7, 4), gen),
        "dense": case("dense.safetensors", g["dense"], (16, 4), gen),
        "rows": case("rows.safetensors", last(g["rows"], g["rows_head"]), (16, 5, 4), gen),
    }
    cases["mlp_onnx"] = dict(cases["mlp"], file="mlp.onnx")
    doc = {"torch": torch.__version__, "safetensors": writer,
           "snippet_sha256": hashlib.sha256(code.encode("utf-8")).hexdigest(), "cases": cases}
    with open(os.path.join(OUT, "pytorch.json"), "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    for name in sorted(os.listdir(OUT)):
        print(f"{name:20} {os.path.getsize(os.path.join(OUT, name)):7} bytes")
    print(f"torch {torch.__version__}, {writer}, snippet {doc['snippet_sha256'][:12]}")


if __name__ == "__main__":
    main()
