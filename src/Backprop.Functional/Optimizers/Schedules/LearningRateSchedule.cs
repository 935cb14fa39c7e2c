namespace Backprop.Functional;

/// <summary>
/// A learning-rate schedule: the rate η_t for update number <c>t</c> (0-based count of updates already done),
/// as a closed form of the base rate η.
/// <para>Threads: immutable, so one instance can be shared by any number of threads.</para>
/// </summary>
/// <remarks>
/// Mirrors the closed forms of <c>torch.optim.lr_scheduler</c> with one scheduler step per optimizer update
/// (torch's <c>last_epoch</c> equals <c>t</c>). Pass <c>schedule.Rate(optimizer.LearningRate, state.Step)</c>
/// as the <c>learningRate</c> argument of <see cref="Optimizer.Update{T}(OptimizerState, Span{T}, ReadOnlySpan{T}, OptimizerBuffers{T}, double)"/>, or give it to a <see cref="Chain"/>.
/// </remarks>
public abstract record LearningRateSchedule
{
    /// <summary>The learning rate for update <paramref name="t"/>.</summary>
    /// <param name="baseRate">The base learning rate η.</param>
    /// <param name="t">0-based number of updates already applied.</param>
    /// <returns>η_t.</returns>
    public abstract double Rate(double baseRate, long t);
}

/// <summary>The constant schedule: η_t = η.
/// <para>Threads: immutable, so one instance can be shared by any number of threads.</para></summary>
/// <remarks>torch: no scheduler (or <c>ConstantLR(factor=1)</c>).</remarks>
public sealed record ConstantRate : LearningRateSchedule
{
    /// <inheritdoc/>
    public override double Rate(double baseRate, long t) => baseRate;
}

/// <summary>Step decay: η_t = η·γ^⌊t / StepSize⌋.
/// <para>Threads: immutable, so one instance can be shared by any number of threads.</para></summary>
/// <param name="StepSize">Number of updates between decays (≥ 1).</param>
/// <param name="Gamma">Multiplicative factor γ applied every <paramref name="StepSize"/> updates.</param>
/// <remarks>Closed form of <c>torch.optim.lr_scheduler.StepLR(step_size, gamma)</c>.</remarks>
public sealed record StepDecay(int StepSize, double Gamma = 0.1) : LearningRateSchedule
{
    private readonly int _stepSize = Schedules.AtLeastOne(StepSize, nameof(StepSize));
    private readonly double _gamma = Schedules.Factor(Gamma, nameof(Gamma));

    /// <summary>Updates between decays, at least 1 (checked when constructed and by <c>with</c>).</summary>
    public int StepSize { get => _stepSize; init => _stepSize = Schedules.AtLeastOne(value, nameof(value)); }

    /// <summary>γ, finite and &gt; 0 (checked when constructed and by <c>with</c>).</summary>
    public double Gamma { get => _gamma; init => _gamma = Schedules.Factor(value, nameof(value)); }

    /// <inheritdoc/>
    public override double Rate(double baseRate, long t)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(StepSize, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(t);
        return baseRate * Math.Pow(Gamma, t / StepSize);
    }
}

/// <summary>Exponential decay: η_t = η·γᵗ.
/// <para>Threads: immutable, so one instance can be shared by any number of threads.</para></summary>
/// <param name="Gamma">Multiplicative factor γ per update.</param>
/// <remarks>Closed form of <c>torch.optim.lr_scheduler.ExponentialLR(gamma)</c>.</remarks>
public sealed record ExponentialDecay(double Gamma) : LearningRateSchedule
{
    private readonly double _gamma = Schedules.Factor(Gamma, nameof(Gamma));

    /// <summary>γ, finite and &gt; 0 (checked when constructed and by <c>with</c>: a negative γ would flip η's sign every
    /// update).</summary>
    public double Gamma { get => _gamma; init => _gamma = Schedules.Factor(value, nameof(value)); }

    /// <inheritdoc/>
    public override double Rate(double baseRate, long t)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(t);
        return baseRate * Math.Pow(Gamma, t);
    }
}

/// <summary>Cosine annealing: η_t = η_min + ½(η − η_min)(1 + cos(π t / T_max)).
/// <para>Threads: immutable, so one instance can be shared by any number of threads.</para></summary>
/// <param name="TMax">Half-period T_max in updates (≥ 1); the rate reaches η_min at t = T_max.</param>
/// <param name="MinRate">The minimum rate η_min.</param>
/// <remarks>
/// Closed form of <c>torch.optim.lr_scheduler.CosineAnnealingLR(T_max, eta_min)</c> (without restarts; past
/// T_max the cosine continues, as torch's closed form does).
/// </remarks>
public sealed record CosineAnnealing(long TMax, double MinRate = 0) : LearningRateSchedule
{
    private readonly long _tMax = Schedules.AtLeastOne(TMax, nameof(TMax));
    private readonly double _minRate = Schedules.Rate(MinRate, nameof(MinRate));

    /// <summary>T_max, at least 1 (checked when constructed and by <c>with</c>).</summary>
    public long TMax { get => _tMax; init => _tMax = Schedules.AtLeastOne(value, nameof(value)); }

    /// <summary>η_min, finite and ≥ 0 (checked when constructed and by <c>with</c>).</summary>
    public double MinRate { get => _minRate; init => _minRate = Schedules.Rate(value, nameof(value)); }

    /// <inheritdoc/>
    public override double Rate(double baseRate, long t)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(TMax, 1L);
        ArgumentOutOfRangeException.ThrowIfNegative(t);
        return MinRate + (0.5 * (baseRate - MinRate) * (1 + Math.Cos(Math.PI * t / TMax)));
    }
}

/// <summary>
/// Linear warm-up, then another schedule: η_t = η·(1/S + (1 − 1/S)·t/S) for t &lt; S, then
/// <c>Then.Rate(η, t − S)</c>.
/// <para>Threads: immutable, so one instance can be shared by any number of threads.</para>
/// </summary>
/// <param name="Steps">Warm-up length S in updates (≥ 1).</param>
/// <param name="Then">The schedule used after warm-up, restarted at its step 0.</param>
/// <remarks>
/// Equals <c>SequentialLR([LinearLR(start_factor=1/S, end_factor=1, total_iters=S), then], milestones=[S])</c>:
/// the rate rises linearly from η/S at t = 0 towards η (reached at t = S, where <paramref name="Then"/> takes over).
/// </remarks>
public sealed record Warmup(long Steps, LearningRateSchedule Then) : LearningRateSchedule
{
    private readonly long _steps = Schedules.AtLeastOne(Steps, nameof(Steps));
    private readonly LearningRateSchedule _then = Then ?? throw new ArgumentNullException(nameof(Then));

    /// <summary>S, at least 1 (checked when constructed and by <c>with</c>).</summary>
    public long Steps { get => _steps; init => _steps = Schedules.AtLeastOne(value, nameof(value)); }

    /// <summary>The schedule after warm-up, not null (checked when constructed and by <c>with</c>).</summary>
    public LearningRateSchedule Then { get => _then; init => _then = value ?? throw new ArgumentNullException(nameof(value)); }

    /// <inheritdoc/>
    public override double Rate(double baseRate, long t)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(Steps, 1L);
        ArgumentOutOfRangeException.ThrowIfNegative(t);
        ArgumentNullException.ThrowIfNull(Then);
        if (t >= Steps)
        {
            return Then.Rate(baseRate, t - Steps);
        }

        double start = 1.0 / Steps;
        return baseRate * (start + ((1 - start) * t / Steps));
    }
}

/// <summary>Checks shared by the schedules' constructors.</summary>
internal static class Schedules
{
    internal static double Factor(double gamma, string name) => gamma > 0 && double.IsFinite(gamma) ? gamma
        : throw new ArgumentOutOfRangeException(name, gamma, "a decay factor γ must be a finite number > 0");

    internal static double Rate(double rate, string name) => rate >= 0 && double.IsFinite(rate) ? rate
        : throw new ArgumentOutOfRangeException(name, rate, "a learning rate must be a finite number ≥ 0");

    internal static int AtLeastOne(int n, string name) => n >= 1 ? n
        : throw new ArgumentOutOfRangeException(name, n, "a schedule's length in updates must be at least 1");

    internal static long AtLeastOne(long n, string name) => n >= 1 ? n
        : throw new ArgumentOutOfRangeException(name, n, "a schedule's length in updates must be at least 1");
}
