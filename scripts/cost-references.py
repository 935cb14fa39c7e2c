#!/usr/bin/env python3
"""Reference costs for tests/Backprop.Functional.Tests/Losses (writes Losses/Fixtures/cost-references.csv).

Each row: the exact value at the given inputs, from the closed form evaluated with mpmath at 1000 significant digits,
and, when PyTorch is importable, what torch computes in float64 and float32 (its own fused, logit-based functions:
binary_cross_entropy_with_logits, cross_entropy with probability targets, softplus). Every input is a dyadic
number, so it is the same in float and double and the exact value serves both.

    /usr/bin/python3 scripts/cost-references.py > tests/Backprop.Functional.Tests/Losses/Fixtures/cost-references.csv

Columns: kind; z (';'-separated); y (';'-separated, empty for softplus); exact; torch64; torch32 (empty without torch).
kind: bce = summed sigmoid binary cross-entropy of z against y; sce = softmax cross-entropy of one row;
softplus = ln(1 + e^z) of one z.
"""
import mpmath

mpmath.mp.dps = 1000

try:
    import torch
    import torch.nn.functional as F
except ImportError:  # closed forms only
    torch = None


def bce_exact(z, y):
    return mpmath.fsum(max(zi, 0) - zi * yi + mpmath.log1p(mpmath.exp(-abs(zi)))
                       for zi, yi in zip(map(mpmath.mpf, z), map(mpmath.mpf, y)))


def sce_exact(z, y):
    z = [mpmath.mpf(v) for v in z]
    lse = mpmath.log(mpmath.fsum(mpmath.exp(v) for v in z))
    return -mpmath.fsum(mpmath.mpf(yi) * (zi - lse) for zi, yi in zip(z, y))


def softplus_exact(z):
    return mpmath.log1p(mpmath.exp(mpmath.mpf(z)))


def torch_values(kind, z, y):
    if torch is None:
        return "", ""
    out = []
    for dtype in (torch.float64, torch.float32):
        zt = torch.tensor(z, dtype=dtype)
        if kind == "bce":
            v = F.binary_cross_entropy_with_logits(zt, torch.tensor(y, dtype=dtype), reduction="sum")
        elif kind == "sce":
            v = F.cross_entropy(zt.unsqueeze(0), torch.tensor(y, dtype=dtype).unsqueeze(0), reduction="sum")
        else:
            v = F.softplus(zt)  # threshold=20 by default: z > 20 returns z itself, as PyTorch does
        out.append(repr(float(v.item())))
    return out[0], out[1]


def num(v):
    return mpmath.nstr(v, 25, strip_zeros=False) if isinstance(v, mpmath.mpf) else repr(v)


cases = []
# Sigmoid + binary cross-entropy, one element per case (the figures first), then small sums.
for z, y in [(20, 0), (40, 0), (800, 0.5), (-800, 0.5), (800, 0), (-800, 1), (100, 0), (-100, 0), (100, 1),
             (35, 1), (25, 1), (-25, 0), (-35, 0), (5, 0.25), (-5, 0.75), (1, 1), (0, 0), (0, 0.5),
             (0.0009765625, 1), (-0.0009765625, 0), (2.5, 0.5), (-1.5, 0.125)]:
    cases.append(("bce", [z], [y]))
cases.append(("bce", [20, -40, 800, -0.5, 3, 0, 1, 2, -6, 17, 88, -104], [0, 1, 0.5, 0, 1, 0.5, 0.25, 1, 0, 0, 1, 0.75]))
# Softmax + cross-entropy, one row per case.
for z, y in [([360, -360], [0, 1]), ([400, -400], [0, 1]), ([-400, 400], [0, 1]), ([800, -800, 0], [0, 0, 1]),
             ([1, 2, 3], [0, 0, 1]), ([1, 2, 3], [1, 0, 0]), ([1, 2, 3], [0.25, 0.25, 0.5]),
             ([30, 0, 0], [1, 0, 0]), ([40, 0], [1, 0]), ([5, 5, 5], [0, 1, 0]), ([100, 100, -100], [0.5, 0.5, 0]),
             ([2, 0, 1], [2, 0, 1]), ([0.5, -1.5, 2.25, 3, -0.125, 7, 1, 1, 4, -2, 0.75], [0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0])]:
    cases.append(("sce", z, y))
# Softplus.
for z in [-800, -100, -88, -35, -25, -20, -1, -0.0009765625, 0, 0.0009765625, 1, 20, 25, 35, 100, 800]:
    cases.append(("softplus", [z], []))

print("kind,z,y,exact,torch64,torch32")
for kind, z, y in cases:
    exact = bce_exact(z, y) if kind == "bce" else sce_exact(z, y) if kind == "sce" else softplus_exact(z[0])
    t64, t32 = torch_values(kind, z, y)
    print(",".join([kind, ";".join(map(repr, z)), ";".join(map(repr, y)), mpmath.nstr(exact, 25), t64, t32]))
