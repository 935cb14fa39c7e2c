namespace Backprop.Functional;

/// <summary>The scalar state of an optimizer: the number of updates applied so far.
/// <para>Threads: an immutable value; safe to copy and share.</para></summary>
/// <param name="Step">
/// Number of updates already applied (0 before the first update). Bias corrections (Adam) and
/// learning-rate decay (Adagrad) use <c>t = Step + 1</c> for the update being computed.
/// </param>
public readonly record struct OptimizerState(long Step)
{
    private readonly long _step = Step >= 0 ? Step : throw Negative(Step);

    /// <summary>Number of updates already applied, 0 or more.</summary>
    /// <exception cref="ArgumentOutOfRangeException">Set to a negative count (Adam's bias corrections 1 − βᵗ would then
    /// divide by a negative or zero number).</exception>
    public long Step
    {
        get => _step;
        init => _step = value >= 0 ? value : throw Negative(value);
    }

    private static ArgumentOutOfRangeException Negative(long step) =>
        new(nameof(step), step, "an optimizer's step count is 0 or more");
}
