#!/usr/bin/env python3
"""Golden values for tests/Backprop.Functional.Tests/Ode (writes Ode/Fixtures/ode-references.json).

An independent engine for the neural-ODE tests: PyTorch (Debian's python3-torch, autograd, float64) and SciPy
(Debian's python3-scipy, solve_ivp) on small problems dh/dt = f(h, t; θ), f = Linear(D + 1 → H) → tanh → Linear(H → D)
with t as the last input column (our OdeFunction with timeInput). For each case the cost of the whole trajectory is
C = Σₖ Σ wₖ ⊙ h(tₖ) + ½‖h(tₘ)‖² over output times t₀ < … < tₘ (w₀ = 0), as the C# OdeCase has it. Written per case:

- rk4 / euler: the states at every output time and ∂C/∂θ, ∂C/∂h₀ by torch autograd through explicit RK4 (5 steps per
  interval) and Euler (7 steps per interval), written here from the textbook formulas. The library's backprop through
  the steps must equal them to round-off: same discretisation, independent differentiation.
- continuous: the states by scipy's DOP853 at rtol = atol = 1e-13, and the gradient of the continuous problem by
  torch autograd through RK4 with 4000 steps per interval (its discretisation error is below 1e-13 here; the script
  checks it against 2000 steps). The library's adaptive adjoint and backprop must approach them within their tolerance.

Parameters are flat in our layout: f.0.weight [H × (D+1)] row-major, f.0.bias [H], f.1.weight [D × H], f.1.bias [D].
Deterministic (seeded generator, one thread, floats written with repr):

    /usr/bin/python3 scripts/ode-references.py [output-file]
"""
import json
import os
import sys

import numpy as np
import torch
from scipy.integrate import solve_ivp

torch.set_num_threads(1)
torch.set_default_dtype(torch.float64)


def f(h, t, p):
    w0, b0, w1, b1 = p
    x = torch.cat([h, torch.full((h.shape[0], 1), float(t))], dim=1)
    return torch.tanh(x @ w0.T + b0) @ w1.T + b1


def rk4_step(h, t, dt, p):
    k1 = f(h, t, p)
    k2 = f(h + dt / 2 * k1, t + dt / 2, p)
    k3 = f(h + dt / 2 * k2, t + dt / 2, p)
    k4 = f(h + dt * k3, t + dt, p)
    return h + dt / 6 * k1 + dt / 3 * k2 + dt / 3 * k3 + dt / 6 * k4


def euler_step(h, t, dt, p):
    return h + dt * f(h, t, p)


def trajectory(step, n, h0, times, p):
    states = [h0]
    h = h0
    for a, b in zip(times[:-1], times[1:]):
        dt = (b - a) / n
        for i in range(n):
            h = step(h, a + i * dt, dt, p)
        states.append(h)
    return states


def cost(states, w):
    c = sum((wk * s).sum() for wk, s in zip(w, states))
    return c + 0.5 * (states[-1] ** 2).sum()


def gradients(step, n, h0v, times, pv, w):
    p = [torch.tensor(v, requires_grad=True) for v in pv]
    h0 = torch.tensor(h0v, requires_grad=True)
    states = trajectory(step, n, h0, times, p)
    c = cost(states, [torch.tensor(x) for x in w])
    c.backward()
    flat = np.concatenate([q.grad.numpy().ravel() for q in p])
    return [s.detach().numpy() for s in states], flat, h0.grad.numpy(), float(c)


def scipy_states(h0v, times, pv):
    w0, b0, w1, b1 = pv
    rows, d = h0v.shape

    def rhs(t, y):
        h = y.reshape(rows, d)
        x = np.concatenate([h, np.full((rows, 1), t)], axis=1)
        return (np.tanh(x @ w0.T + b0) @ w1.T + b1).ravel()

    sol = solve_ivp(rhs, (times[0], times[-1]), h0v.ravel(), method="DOP853", t_eval=times, rtol=1e-13, atol=1e-13)
    assert sol.success, sol.message
    return [sol.y[:, k].reshape(rows, d) for k in range(len(times))]


def case(name, seed, d, hidden, rows, times):
    rng = np.random.default_rng(seed)
    pv = [rng.normal(0, 0.6, (hidden, d + 1)), rng.normal(0, 0.6, hidden), rng.normal(0, 0.6, (d, hidden)), rng.normal(0, 0.6, d)]
    h0v = rng.normal(0, 1, (rows, d))
    w = [np.zeros((rows, d))] + [rng.normal(0, 1, (rows, d)) for _ in times[1:]]
    out = {"case": name, "dimension": d, "hidden": hidden, "rows": rows, "times": times,
           "theta": [float(x) for x in np.concatenate([v.ravel() for v in pv])],
           "h0": [float(x) for x in h0v.ravel()], "weights": [float(x) for x in np.concatenate([x.ravel() for x in w])]}
    for label, step, n in (("rk4", rk4_step, 5), ("euler", euler_step, 7)):
        states, dtheta, dh0, c = gradients(step, n, h0v, times, pv, w)
        out[label] = {"steps": n, "states": [float(x) for s in states for x in s.ravel()], "cost": c,
                      "dtheta": [float(x) for x in dtheta], "dh0": [float(x) for x in dh0.ravel()]}
    fine, dtheta, dh0, c = gradients(rk4_step, 4000, h0v, times, pv, w)
    _, dtheta_half, dh0_half, _ = gradients(rk4_step, 2000, h0v, times, pv, w)
    gap = max(np.abs(dtheta - dtheta_half).max(), np.abs(dh0 - dh0_half).max())
    assert gap < 1e-11, f"{name}: RK4 at 2000 and 4000 steps differ by {gap}"
    reference = scipy_states(h0v, times, pv)
    drift = max(np.abs(a - b).max() for a, b in zip(fine, reference))
    assert drift < 1e-10, f"{name}: RK4 (4000 steps) and DOP853 differ by {drift}"
    out["continuous"] = {"states": [float(x) for s in reference for x in s.ravel()], "cost": c,
                         "dtheta": [float(x) for x in dtheta], "dh0": [float(x) for x in dh0.ravel()]}
    return out


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    path = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "..", "tests", "Backprop.Functional.Tests", "Ode", "Fixtures", "ode-references.json")
    cases = [
        case("spiral-like", 1, 2, 8, 3, [0.0, 0.5, 1.2]),
        case("wider", 2, 3, 6, 2, [0.0, 0.7]),
        case("backward-in-time", 3, 2, 5, 2, [1.0, 0.4, -0.3]),
    ]
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as out:
        json.dump({"generator": "scripts/ode-references.py", "torch": torch.__version__, "cases": cases}, out, indent=1)
        out.write("\n")
    print(f"wrote {len(cases)} cases to {path}")


if __name__ == "__main__":
    main()
