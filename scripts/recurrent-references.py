#!/usr/bin/env python3
"""Golden values for tests/Backprop.Functional.Tests/Layers/Recurrent (writes Layers/Recurrent/Fixtures/*.json).

PyTorch (torch 1.13, Debian's python3-torch) computes, in float64, small recurrent networks of issue 12: for each
cell (rnn_tanh, rnn_relu, lstm, gru) a sequence-to-one net with a quadratic cost, a sequence-to-sequence net with a
per-step softmax head and cross-entropy, and a net whose initial state is learned; for lstm and gru also two stacked
cells. Each fixture holds the layer list, x, y, the lengths, every parameter under our layout name, the network's
output, the cost and ∂C/∂θ per tensor and ∂C/∂x, so the C# tests need no Python. Deterministic (seeded generators,
one thread, floats written with repr, i.e. the shortest text that round-trips):

    /usr/bin/python3 scripts/recurrent-references.py [output-directory]

The directory defaults to tests/Backprop.Functional.Tests/Layers/Recurrent/Fixtures. What the values mean:
- x [batch × time × inputs], batch first, row-major; lengths per sequence. Steps t ≥ length are padding: x and y hold
  random values there on purpose, and nothing may depend on them (∂C/∂x is exactly 0 there).
- Parameters: layers.{l}.weight_ih_l0 [G·H × I], weight_hh_l0 [G·H × H], bias_ih_l0 [G·H], bias_hh_l0 [G·H]
  (G = 1, 4, 3; PyTorch's gate orders: LSTM i, f, g, o; GRU r, z, n with b_hn inside r ⊙ (W_hn h + b_hn)), then
  layers.{l}.h0 [H] (and c0 [H] for LSTM) when the initial state is learned: one vector shared by every sequence.
  Dense: layers.{l}.weight [O × H], layers.{l}.bias [O]. A stacked second cell is its own layer (our
  layers.1.weight_ih_l0 is PyTorch's weight_ih_l1).
- Sequence-to-one: the cell's output is h at each sequence's own last step (PyTorch's h_n of a packed batch), output
  [batch × O]; C = mean over the batch of ½‖a − y‖². Sequence-to-sequence: output [batch × time × O], 0 at padded
  steps (not a value to compare); C = mean over the valid (sample, step) pairs of −Σⱼ yⱼ ln softmax(z)ⱼ.

What it checks before writing (and stops if any fails):
- PyTorch's modules on a packed batch (pack_padded_sequence, enforce_sorted=False) agree with the cell equations
  written out here, run one sequence at a time over its own steps only: outputs, cost and every gradient to 1e-12.
- New random values at the padded steps of x and y leave output, cost and gradients bit-for-bit unchanged.
- Two stacked cells equal PyTorch's own two-layer nn.LSTM / nn.GRU with the same weights.
- Every gradient matches a central finite difference of the cost (step 1e-6) to 1e-7.
- No ReLU pre-activation lies within 1e-6 of 0, so a rounding difference cannot switch a unit on or off.
"""
import json
import os
import sys
import zlib

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

torch.set_num_threads(1)
torch.use_deterministic_algorithms(True)
DT = torch.float64
I, H, O = 3, 4, 2
GATES = {"Rnn": 1, "Lstm": 4, "Gru": 3}
KINK = [float("inf")]   # smallest |pre-activation| a ReLU cell met: far from 0, so rounding cannot flip a unit
DEFAULT_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "Backprop.Functional.Tests",
                           "Layers", "Recurrent", "Fixtures")


def cell(kind, inputs, hidden, activation=None, return_sequences=False, initial_state="Zero"):
    d = {"kind": kind, "inputs": inputs, "hidden": hidden}
    if kind == "Rnn":
        d["activation"] = activation
    d["returnSequences"] = return_sequences
    d["initialState"] = initial_state
    return d


def dense(inputs, outputs, activation, per_step=False):
    return {"kind": "Dense", "inputs": inputs, "outputs": outputs, "activation": activation, "perStep": per_step}


def cases():
    out = []
    for name, kind, act in [("rnn_tanh", "Rnn", "Tanh"), ("rnn_relu", "Rnn", "ReLU"), ("lstm", "Lstm", None),
                            ("gru", "Gru", None)]:
        out.append(dict(name=f"{name}_seq_to_one", loss="Quadratic", batch=3, time=5, lengths=[5, 3, 1],
                        summary="sequence-to-one, lengths differing within the batch",
                        layers=[cell(kind, I, H, act), dense(H, O, "Identity")]))
        out.append(dict(name=f"{name}_seq_to_seq", loss="SoftmaxCrossEntropy", batch=3, time=5, lengths=[2, 5, 4],
                        summary="sequence-to-sequence, a softmax head at every step, lengths differing",
                        layers=[cell(kind, I, H, act, return_sequences=True), dense(H, O, "Softmax", per_step=True)]))
        out.append(dict(name=f"{name}_learned_state", loss="Quadratic", batch=2, time=4, lengths=[4, 4],
                        summary="sequence-to-one, learned initial state shared by the batch, equal lengths",
                        layers=[cell(kind, I, H, act, initial_state="Learned"), dense(H, O, "Identity")]))
        if kind != "Rnn":
            out.append(dict(name=f"{name}_stacked", loss="Quadratic", batch=3, time=6, lengths=[4, 6, 2],
                            summary="two stacked cells, sequence-to-one, lengths differing",
                            layers=[cell(kind, I, H, act, return_sequences=True), cell(kind, H, H, act),
                                    dense(H, O, "Identity")]))
    return out


def parameter_shapes(layers):
    """Our layout: (name, shape) per tensor, in θ order."""
    shapes = []
    for l, layer in enumerate(layers):
        if layer["kind"] == "Dense":
            shapes += [(f"layers.{l}.weight", [layer["outputs"], layer["inputs"]]), (f"layers.{l}.bias", [layer["outputs"]])]
            continue
        gh, i, h = GATES[layer["kind"]] * layer["hidden"], layer["inputs"], layer["hidden"]
        shapes += [(f"layers.{l}.weight_ih_l0", [gh, i]), (f"layers.{l}.weight_hh_l0", [gh, h]),
                   (f"layers.{l}.bias_ih_l0", [gh]), (f"layers.{l}.bias_hh_l0", [gh])]
        if layer["initialState"] == "Learned":
            shapes.append((f"layers.{l}.h0", [h]))
            if layer["kind"] == "Lstm":
                shapes.append((f"layers.{l}.c0", [h]))
    return shapes


def draw(case):
    """Parameters, x, y and the padding values from a generator seeded by the case's name."""
    g = torch.Generator().manual_seed(zlib.crc32(case["name"].encode()))
    params = {}
    for name, shape in parameter_shapes(case["layers"]):
        params[name] = (torch.rand(shape, generator=g, dtype=DT) * 1.6 - 0.8)   # U(−0.8, 0.8)
    b, t = case["batch"], case["time"]
    x = torch.randn(b, t, I, generator=g, dtype=DT)
    if case["loss"] == "Quadratic":
        y = torch.randn(b, O, generator=g, dtype=DT)
    else:
        y = F.one_hot(torch.randint(O, (b, t), generator=g), O).to(DT)
    return params, x, y, g


def module_for(layer):
    kind = layer["kind"]
    if kind == "Rnn":
        return nn.RNN(layer["inputs"], layer["hidden"], nonlinearity=layer["activation"].lower(), batch_first=True, dtype=DT)
    return (nn.LSTM if kind == "Lstm" else nn.GRU)(layer["inputs"], layer["hidden"], batch_first=True, dtype=DT)


def cost_of(case, z, y, lengths):
    """C and the output a, from the head's z."""
    if case["loss"] == "Quadratic":
        return (0.5 * ((z - y) ** 2).sum(-1)).mean(), z
    t = z.shape[1]
    mask = torch.arange(t).unsqueeze(0) < torch.tensor(lengths).unsqueeze(1)   # [batch × time], valid steps
    per_position = -(y * F.log_softmax(z, -1)).sum(-1)
    cost = per_position[mask].sum() / mask.sum()
    return cost, torch.where(mask.unsqueeze(-1), F.softmax(z, -1), torch.zeros_like(z))


def run_torch(case, params, x, y):
    """PyTorch's modules on the packed batch: (output, cost, {name: ∂C/∂θ}, ∂C/∂x)."""
    layers, lengths, b, t = case["layers"], case["lengths"], case["batch"], case["time"]
    leaves = {n: p.clone().requires_grad_(True) for n, p in params.items()}
    x = x.clone().requires_grad_(True)
    seq, last = x, None
    for l, layer in enumerate(layers):
        if layer["kind"] == "Dense":
            w, bias = leaves[f"layers.{l}.weight"], leaves[f"layers.{l}.bias"]
            z = (seq if layer["perStep"] else last) @ w.T + bias
            continue
        mod = module_for(layer)
        for p in ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"):
            delattr(mod, p)   # the module reads our leaves instead of its own parameters
            setattr(mod, p, leaves[f"layers.{l}.{p}"])
        hx = None
        if layer["initialState"] == "Learned":
            h0 = leaves[f"layers.{l}.h0"].expand(1, b, layer["hidden"])
            hx = (h0, leaves[f"layers.{l}.c0"].expand(1, b, layer["hidden"])) if layer["kind"] == "Lstm" else h0
        packed = pack_padded_sequence(seq, torch.tensor(lengths), batch_first=True, enforce_sorted=False)
        out, hn = mod(packed, hx)
        hn = hn[0] if layer["kind"] == "Lstm" else hn
        last = hn[-1]                                                     # h at each sequence's own last step
        seq = pad_packed_sequence(out, batch_first=True, total_length=t)[0]   # 0 at padded steps
    cost, a = cost_of(case, z, y, lengths)
    cost.backward()
    return a.detach(), cost.detach(), {n: p.grad for n, p in leaves.items()}, x.grad


def step(layer, p, xt, h, c):
    """One step of the cell equations of issue 12, for one sequence (vectors)."""
    kind, gx, gh = layer["kind"], p["weight_ih_l0"] @ xt + p["bias_ih_l0"], p["weight_hh_l0"] @ h + p["bias_hh_l0"]
    if kind == "Rnn":
        if layer["activation"] == "ReLU":
            KINK[0] = min(KINK[0], (gx + gh).abs().min().item())
        return (torch.tanh if layer["activation"] == "Tanh" else torch.relu)(gx + gh), None
    if kind == "Lstm":
        i, f, g, o = (gx + gh).chunk(4)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        return torch.sigmoid(o) * torch.tanh(c), c
    xr, xz, xn = gx.chunk(3)
    hr, hz, hn = gh.chunk(3)
    r, z = torch.sigmoid(xr + hr), torch.sigmoid(xz + hz)
    n = torch.tanh(xn + r * hn)
    return (1 - z) * n + z * h, None


def run_by_hand(case, params, x, y, backward=True):
    """The same network, one sequence at a time over its own steps only, from the equations in step()."""
    layers, lengths = case["layers"], case["lengths"]
    leaves = {n: p.clone().requires_grad_(True) for n, p in params.items()}
    x = x.clone().requires_grad_(True)
    zs = []
    for s, length in enumerate(lengths):
        seq, last = [x[s, k] for k in range(length)], None
        for l, layer in enumerate(layers):
            if layer["kind"] == "Dense":
                w, bias = leaves[f"layers.{l}.weight"], leaves[f"layers.{l}.bias"]
                z = [w @ v + bias for v in seq] if layer["perStep"] else w @ last + bias
                continue
            p = {k.split(".", 2)[2]: v for k, v in leaves.items() if k.startswith(f"layers.{l}.")}
            learned = layer["initialState"] == "Learned"
            h = p["h0"] if learned else torch.zeros(layer["hidden"], dtype=DT)
            c = (p["c0"] if learned else torch.zeros(layer["hidden"], dtype=DT)) if layer["kind"] == "Lstm" else None
            out = []
            for v in seq:
                h, c = step(layer, p, v, h, c)
                out.append(h)
            seq, last = out, h
        if isinstance(z, list):
            z = torch.stack(z + [torch.zeros(O, dtype=DT)] * (case["time"] - length))
        zs.append(z)
    cost, a = cost_of(case, torch.stack(zs), y, lengths)
    if not backward:
        return cost.item()
    cost.backward()
    return a.detach(), cost.detach(), {n: p.grad for n, p in leaves.items()}, x.grad


def stacked_as_pytorch_multilayer(case, params, x):
    """h_n of the top layer from PyTorch's own two-layer module (num_layers=2) with our two cells' weights."""
    first, second = case["layers"][0], case["layers"][1]
    mod = (nn.LSTM if first["kind"] == "Lstm" else nn.GRU)(I, H, num_layers=2, batch_first=True, dtype=DT)
    with torch.no_grad():
        for k in (0, 1):
            for p in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                getattr(mod, f"{p}_l{k}").copy_(params[f"layers.{k}.{p}_l0"])
    packed = pack_padded_sequence(x, torch.tensor(case["lengths"]), batch_first=True, enforce_sorted=False)
    _, hn = mod(packed)
    hn = hn[0] if first["kind"] == "Lstm" else hn
    w, b = params["layers.2.weight"], params["layers.2.bias"]
    return hn[-1].detach() @ w.T + b


def require_close(what, got, want, tol):
    err = ((got - want).abs() / want.abs().clamp_min(1e-300)).max().item() if want.numel() else 0.0
    scale = want.abs().max().item() if want.numel() else 0.0
    bad = ((got - want).abs() > tol * torch.maximum(want.abs(), torch.full_like(want, 1e-6 * scale))).any().item()
    if bad:
        sys.exit(f"{what}: differs by up to {err:.3g} relative (tolerance {tol})")
    return err


def finite_difference_check(case, params, x, y, grads, dx):
    h = 1e-6

    def cost(p, xx):
        with torch.no_grad():
            return run_by_hand(case, p, xx, y, backward=False)

    for name, p in params.items():
        for k in range(p.numel()):
            plus, minus = dict(params), dict(params)
            plus[name], minus[name] = p.clone(), p.clone()
            plus[name].view(-1)[k] += h
            minus[name].view(-1)[k] -= h
            fd = (cost(plus, x) - cost(minus, x)) / (2 * h)
            an = grads[name].view(-1)[k].item()
            if abs(fd - an) > 1e-7 * max(1.0, abs(an)):
                sys.exit(f"{case['name']}: ∂C/∂{name}[{k}] = {an!r}, central difference {fd!r}")
    for k in range(x.numel()):
        plus, minus = x.clone(), x.clone()
        plus.view(-1)[k] += h
        minus.view(-1)[k] -= h
        fd = (cost(params, plus) - cost(params, minus)) / (2 * h)
        an = dx.view(-1)[k].item()
        if abs(fd - an) > 1e-7 * max(1.0, abs(an)):
            sys.exit(f"{case['name']}: ∂C/∂x[{k}] = {an!r}, central difference {fd!r}")


def repad(case, x, y, g):
    """x and y with new random values at every padded step."""
    x, y = x.clone(), y.clone()
    for s, length in enumerate(case["lengths"]):
        if length < case["time"]:
            x[s, length:] = torch.randn(case["time"] - length, I, generator=g, dtype=DT)
            if y.dim() == 3:
                y[s, length:] = F.one_hot(torch.randint(O, (case["time"] - length,), generator=g), O).to(DT)
    return x, y


def numbers(t):
    return "[" + ", ".join(repr(float(v)) for v in t.reshape(-1).tolist()) + "]"


def tensor_json(t):
    return '{"shape": ' + json.dumps(list(t.shape)) + ', "value": ' + numbers(t) + "}"


def fixture(case, params, x, y, a, cost, grads, dx):
    lines = ["{",
             f'  "case": {json.dumps(case["name"])},',
             f'  "summary": {json.dumps(case["summary"])},',
             f'  "loss": {json.dumps(case["loss"])},',
             '  "layers": [',
             ",\n".join("    " + json.dumps(layer) for layer in case["layers"]),
             "  ],",
             f'  "batch": {case["batch"]},',
             f'  "time": {case["time"]},',
             f'  "lengths": {json.dumps(case["lengths"])},',
             f'  "x": {tensor_json(x)},',
             f'  "y": {tensor_json(y)},',
             f'  "output": {tensor_json(a)},',
             f'  "cost": {float(cost)!r},',
             '  "parameters": [',
             ",\n".join(f'    {{"name": {json.dumps(n)}, "shape": {json.dumps(list(params[n].shape))},\n'
                        f'     "value": {numbers(params[n])},\n     "gradient": {numbers(grads[n])}}}'
                        for n, _ in parameter_shapes(case["layers"])),
             "  ],",
             f'  "inputGradient": {tensor_json(dx)}',
             "}"]
    return "\n".join(lines) + "\n"


def main():
    directory = sys.argv[1] if len(sys.argv) > 1 else DEFAULT_DIR
    os.makedirs(directory, exist_ok=True)
    worst = 0.0
    for case in cases():
        params, x, y, g = draw(case)
        a, cost, grads, dx = run_torch(case, params, x, y)
        # the equations, one sequence at a time
        a2, cost2, grads2, dx2 = run_by_hand(case, params, x, y)
        worst = max(worst, require_close(f"{case['name']} output", a2, a, 1e-12),
                    require_close(f"{case['name']} cost", cost2, cost, 1e-12),
                    require_close(f"{case['name']} ∂C/∂x", dx2, dx, 1e-12),
                    *(require_close(f"{case['name']} ∂C/∂{n}", grads2[n], grads[n], 1e-12) for n in params))
        # padding changes nothing, bit for bit
        xp, yp = repad(case, x, y, g)
        a3, cost3, grads3, dx3 = run_torch(case, params, xp, yp)
        if not (torch.equal(a3, a) and torch.equal(cost3, cost) and torch.equal(dx3, dx)
                and all(torch.equal(grads3[n], grads[n]) for n in params)):
            sys.exit(f"{case['name']}: the padded steps changed a result")
        if any(dx[s, length:].count_nonzero().item() for s, length in enumerate(case["lengths"])):
            sys.exit(f"{case['name']}: ∂C/∂x is not 0 at a padded step")
        if case["name"].endswith("_stacked"):
            require_close(f"{case['name']} vs num_layers=2", stacked_as_pytorch_multilayer(case, params, x), a, 1e-12)
        finite_difference_check(case, params, x, y, grads, dx)
        if KINK[0] < 1e-6:
            sys.exit(f"{case['name']}: a ReLU pre-activation is {KINK[0]:.3g}, too near the kink")
        with open(os.path.join(directory, case["name"] + ".json"), "w", encoding="utf-8", newline="\n") as f:
            f.write(fixture(case, params, x, y, a, cost, grads, dx))
    print(f"{len(cases())} cases; largest relative difference between PyTorch's modules and the equations one "
          f"sequence at a time: {worst:.3g}; smallest |ReLU pre-activation|: {KINK[0]:.3g}", file=sys.stderr)


if __name__ == "__main__":
    main()
