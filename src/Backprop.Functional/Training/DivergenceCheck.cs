namespace Backprop.Functional;

/// <summary>The running-mean test behind <see cref="TrainingOptions.DivergenceFactor"/>: C̄ ← C̄ + w·(C − C̄) with
/// w = rows / min(<see cref="TrainingOptions.DivergenceHorizon"/>, n), an exponential moving average over about the last
/// 1024 samples, started at the starting cost C₀; diverged when C̄ &gt; factor·C₀. Averaging over samples rather than
/// testing one batch keeps a single bad batch (batch size 1, an outlier) from stopping a healthy run.</summary>
internal struct DivergenceCheck(double? factor, int count)
{
    private readonly double _factor = factor ?? 0;
    private readonly double _perRow = 1.0 / Math.Max(1, Math.Min(TrainingOptions.DivergenceHorizon, count));

    /// <summary>C₀ (NaN until measured).</summary>
    public double Start = double.NaN;

    /// <summary>C̄.</summary>
    public double Running = double.NaN;

    public readonly bool Enabled => _factor > 0;

    /// <summary>Adds a batch's mean cost; true when C̄ has risen above factor·C₀.</summary>
    public bool Add(double cost, int rows)
    {
        Running += Math.Min(1, rows * _perRow) * (cost - Running);
        return Start > 0 && Running > _factor * Start;
    }
}
