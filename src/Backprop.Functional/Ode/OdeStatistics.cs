namespace Backprop.Functional;

/// <summary>What one solve and its gradient cost: the number of function evaluations (NFE) and of steps.</summary>
/// <param name="ForwardEvaluations">Evaluations of f in the forward solve (Dormand–Prince's first-step estimate included).</param>
/// <param name="ForwardSteps">Accepted forward steps.</param>
/// <param name="ForwardRejected">Rejected forward steps (adaptive only).</param>
/// <param name="BackwardEvaluations">Evaluations of f in the backward pass: the adjoint's augmented dynamics (each one
/// f and one vector–Jacobian product), or for <see cref="OdeGradient.Discretise"/> the recomputed stages.</param>
/// <param name="BackwardProducts">Vector–Jacobian products of f (f's backward kernels) in the backward pass.</param>
/// <param name="BackwardSteps">Accepted backward steps (the adjoint) or steps backpropagated (discretise).</param>
/// <param name="BackwardRejected">Rejected backward steps (adaptive adjoint only).</param>
public readonly record struct OdeStatistics(
    int ForwardEvaluations, int ForwardSteps, int ForwardRejected,
    int BackwardEvaluations, int BackwardProducts, int BackwardSteps, int BackwardRejected);
