namespace Backprop.Functional;

/// <summary>The scalar state of an optimizer: the number of updates applied so far.
/// <para>Threads: an immutable value; safe to copy and share.</para></summary>
/// <param name="Step">
/// Number of updates already applied (0 before the first update). Bias corrections (Adam) and
/// learning-rate decay (Adagrad) use <c>t = Step + 1</c> for the update being computed.
/// </param>
public readonly record struct OptimizerState(long Step);
