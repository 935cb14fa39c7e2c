namespace Backprop.Functional;

/// <summary>The memory one ODE solve and its gradient need, laid out once from the description: a part that scales
/// with the rows (<see cref="PerRow"/> values per sample) and a part that does not (<see cref="PerLayer"/>), both
/// carved into named blocks by <see cref="OdeEngine{T}"/>. Sizes are checked before anything is allocated.</summary>
internal sealed class OdePlan
{
    public OdePlan(OdeFunction f, OdeSolver solver, OdeGradient gradient, int checkpoints, int intervals)
    {
        ArgumentNullException.ThrowIfNull(f);
        ArgumentNullException.ThrowIfNull(solver);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(intervals);
        ArgumentOutOfRangeException.ThrowIfNegative(checkpoints);
        if (gradient == OdeGradient.Discretise && checkpoints != 0)
            throw new ArgumentException("checkpoints apply to the adjoint; discretise-then-optimise keeps every step's state", nameof(checkpoints));
        F = f;
        Solver = solver;
        Gradient = gradient;
        Checkpoints = checkpoints;
        Intervals = intervals;
        Tableau = solver.Tableau;
        D = f.Dimension;
        In0 = f.InputWidth;
        int record = In0, widest = In0;
        foreach (var layer in f.Layers)
        {
            record = checked(record + 2 * layer.Outputs);
            widest = Math.Max(widest, layer.Outputs);
        }
        Record = record;
        Widest = widest;
        P = f.ParameterCount;
        FixedSteps = solver.FixedSteps;
        // Discretise-then-optimise stores every step's state, so its steps are bounded like a description's; the adjoint
        // stores only the boundaries (bounded below), and its step count need only fit an int.
        long fixedTotal = (long)FixedSteps * intervals;
        long stepLimit = gradient == OdeGradient.Discretise ? FixedStepLimits.MaxSteps : int.MaxValue - 1;
        if (solver is not DormandPrince && fixedTotal > stepLimit)
            throw new ArgumentOutOfRangeException(nameof(intervals), intervals,
                $"{FixedSteps} steps per interval × {intervals} intervals = {fixedTotal} steps in one solve, more than {stepLimit}");
        MaxSteps = solver is DormandPrince dp ? dp.MaxSteps : (int)fixedTotal;
        if (FixedSteps > 0 && checkpoints >= FixedSteps)
            throw new ArgumentException($"{checkpoints} checkpoints need more than {checkpoints} steps per interval; the solver takes {FixedSteps}", nameof(checkpoints));
        if (checkpoints > FixedStepLimits.MaxSteps)
            throw new ArgumentOutOfRangeException(nameof(checkpoints), checkpoints, $"at most {FixedStepLimits.MaxSteps} checkpoints");
        int s = Tableau.Stages;
        long boundaries = (long)intervals * (checkpoints + 1) + 1;
        if (boundaries > FixedStepLimits.MaxSteps + 1L)
            throw new ArgumentOutOfRangeException(nameof(intervals), intervals,
                $"{intervals} intervals × {checkpoints + 1} stored states each = {boundaries} states in one solve, more than {FixedStepLimits.MaxSteps + 1}");
        States = gradient == OdeGradient.Discretise ? checked(MaxSteps + 1) : (int)boundaries;
        int w = gradient == OdeGradient.Adjoint ? 2 * D : D;
        W = w;
        // Per row: stored states, then the records, then the integrator's buffers, then the backward's.
        long perRow = (long)States * D                                  // h at each step (discretise) or boundary (adjoint)
            + (long)(gradient == OdeGradient.Discretise ? s : 1) * record // f's activations: every stage (recomputed) or one
            + (long)w * (3 + s)                                         // y, y_tmp, y_new, error... + stage slopes k1ᵢ
            + w                                                         // error estimate
            + (long)s * D + 2L * D                                      // discretise: Ȳᵢ, ā, ḡ
            + 2L * widest + D;                                          // f's backward ping-pong and the cotangent copy
        PerRow = perRow <= int.MaxValue / 4 ? (int)perRow
            : throw new ArgumentOutOfRangeException(nameof(solver), $"an ODE block of this size keeps {perRow:N0} values per sample; use fewer steps or the adjoint");
        // The step log is read only by backpropagation through adaptive steps: fixed steps and the adjoint keep none.
        StepLog = gradient == OdeGradient.Discretise && FixedSteps == 0 ? MaxSteps : 0;
        long perLayer = StatisticsLength + StepLog + intervals + (long)(s + 2) * P;
        PerLayer = perLayer <= int.MaxValue / 4 ? (int)perLayer
            : throw new ArgumentOutOfRangeException(nameof(solver), $"an ODE block of this size keeps {perLayer:N0} values per layer");
    }

    public const int StatisticsLength = 8;

    public OdeFunction F { get; }
    public OdeSolver Solver { get; }
    public OdeGradient Gradient { get; }
    public int Checkpoints { get; }
    public int Intervals { get; }
    public ButcherTableau Tableau { get; }
    public int D { get; }
    public int In0 { get; }
    public int Record { get; }
    public int Widest { get; }
    public int P { get; }
    public int FixedSteps { get; }
    public int MaxSteps { get; }
    public int States { get; }
    public int StepLog { get; }
    public int W { get; }
    public int PerRow { get; }
    public int PerLayer { get; }
    public bool Adaptive => FixedSteps == 0;
}
