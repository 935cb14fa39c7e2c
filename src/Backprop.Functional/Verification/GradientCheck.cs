using System.Numerics;

namespace Backprop.Functional;

/// <summary>Options of a <see cref="GradientCheck"/>.
/// <para>Threads: immutable, so one instance can be shared by any number of threads.</para></summary>
/// <param name="Stencil">Finite-difference stencil.</param>
/// <param name="Step">Relative step: hᵢ = Step · max(1, |θᵢ|), taken as the step T can represent,
/// h'ᵢ = (θᵢ + hᵢ) − θᵢ, and divided by that (positive, finite). Null picks ε^(1/3) for the central stencil and
/// ε^(1/5) for the five-point one (ε the machine epsilon of T), which balance truncation and rounding error.</param>
/// <param name="Sample">Check this many parameters drawn without replacement from <paramref name="Seed"/>
/// (null: every parameter).</param>
/// <param name="Seed">Seed of the sample.</param>
/// <param name="Floor">Positive absolute floor of the relative error's denominator:
/// |g − ĝ| / max(|g|, |ĝ|, Floor), so gradients that are zero in exact arithmetic are judged by absolute error.</param>
/// <param name="Time">Time steps of each sequence, for a network that reads sequences (x is [rows × Time × inputs]).</param>
public sealed record GradientCheckOptions(
    FiniteDifference Stencil = FiniteDifference.Central,
    double? Step = null,
    int? Sample = null,
    long Seed = 0,
    double Floor = 1e-8,
    int Time = 1);

/// <summary>The largest discrepancy found in one slot.
/// <para>Threads: immutable, so one instance can be shared by any number of threads.</para></summary>
/// <param name="Slot">The tensor checked.</param>
/// <param name="Checked">How many of its parameters were checked.</param>
/// <param name="MaxRelativeError">Largest |g − ĝ| / max(|g|, |ĝ|, floor) over those parameters.</param>
/// <param name="WorstIndex">Flat index of the worst parameter (−1 when none was checked).</param>
/// <param name="Backprop">g at the worst index, from backpropagation.</param>
/// <param name="FiniteDifference">ĝ at the worst index, from finite differences.</param>
public readonly record struct SlotError(Slot Slot, int Checked, double MaxRelativeError, int WorstIndex,
    double Backprop, double FiniteDifference);

/// <summary>What a gradient check found and what it cost.
/// <para>Threads: immutable, so one instance can be shared by any number of threads.</para></summary>
/// <param name="Slots">Per tensor, the largest relative error.</param>
/// <param name="ParametersChecked">Parameters checked.</param>
/// <param name="LossEvaluations">Forward passes the finite differences spent (2 or 4 per parameter), against
/// backprop's one forward and one backward pass for all of them: the reason backprop exists.</param>
public sealed record GradientCheckReport(IReadOnlyList<SlotError> Slots, int ParametersChecked, long LossEvaluations)
{
    /// <summary>The largest relative error over all slots.</summary>
    public double MaxRelativeError
    {
        get
        {
            double max = 0;
            foreach (var s in Slots) max = Math.Max(max, s.MaxRelativeError);
            return max;
        }
    }

    /// <summary>One line per slot.</summary>
    public override string ToString()
    {
        var sb = new System.Text.StringBuilder();
        sb.Append(System.Globalization.CultureInfo.InvariantCulture,
            $"{ParametersChecked} parameters, {LossEvaluations} loss evaluations (backprop: 1 forward + 1 backward), max relative error {MaxRelativeError:E2}");
        foreach (var s in Slots)
            sb.AppendLine().Append(System.Globalization.CultureInfo.InvariantCulture,
                $"  {s.Slot.Name} {s.Slot.Shape}: {s.Checked} checked, max relative error {s.MaxRelativeError:E2} at {s.WorstIndex} (backprop {s.Backprop:G6}, finite difference {s.FiniteDifference:G6})");
        return sb.ToString();
    }
}

/// <summary>Checks backpropagation against finite differences of the cost, parameter by parameter. Usable on any
/// <see cref="Network{T}"/>: run it in double for tight tolerances.
/// <para>Threads: no shared state: calls from several threads at once are safe, as long as no two of them write the
/// same buffers. A check perturbs the network's θ in place, so nothing else may use that network
/// meanwhile.</para></summary>
public static class GradientCheck
{
    /// <summary>Compares ∂C/∂θ from one backward pass with finite differences of C over the batch (x, y). θ is
    /// perturbed in place and restored bit for bit.</summary>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of range (Step or Floor not positive and finite,
    /// Sample negative), named in the message.</exception>
    public static GradientCheckReport Run<T>(Network<T> network, ReadOnlySpan<T> x, ReadOnlySpan<T> y,
        GradientCheckOptions? options = null) where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(network);
        options ??= new GradientCheckOptions();
        Check(options);
        using var ws = WorkspaceFor(network, x, options);
        using var gradient = network.CreateGradient();
        network.ValueAndGradient(x, y, ws, gradient.Span);

        var layout = network.Layout;
        var indices = Indices(layout.Count, options.Sample, options.Seed);
        double step = StepOf<T>(options);

        var perSlot = new SlotError[layout.Slots.Length];
        for (int s = 0; s < perSlot.Length; s++) perSlot[s] = new SlotError(layout.Slots[s], 0, 0, -1, 0, 0);
        foreach (int i in indices)
        {
            double fd = Estimate(network, x, y, ws, i, options.Stencil, step);
            double g = double.CreateChecked(gradient.Span[i]);
            double err = RelativeError(g, fd, options.Floor);
            int slot = SlotIndex(layout, i);
            var cur = perSlot[slot];
            perSlot[slot] = err > cur.MaxRelativeError || cur.WorstIndex < 0
                ? new SlotError(cur.Slot, cur.Checked + 1, err, i, g, fd)
                : cur with { Checked = cur.Checked + 1 };
        }
        return new GradientCheckReport(perSlot, indices.Length, EvaluationsPerParameter(options.Stencil) * indices.Length);
    }

    /// <summary>The whole finite-difference estimate ĝ of ∂C/∂θ over the batch (x, y), in the flat layout: ĝᵢ into
    /// <paramref name="destination"/>[i] for the parameters <see cref="GradientCheckOptions.Sample"/> picks (every
    /// one by default) and NaN for the others, with the stencil and step of <paramref name="options"/>, the same
    /// numbers <see cref="Run{T}"/> compares. θ is perturbed in place and restored bit for bit.</summary>
    /// <param name="network">The network; its θ is the point of the estimate.</param>
    /// <param name="x">Inputs, [batch × inputs].</param>
    /// <param name="y">Targets, [batch × outputs].</param>
    /// <param name="destination">ĝ, written, [θ's length] (slice it per tensor with <see cref="Slot.Of{T}(Span{T})"/>).</param>
    /// <param name="options">Stencil, step and sample; null for the defaults.</param>
    /// <returns>The loss evaluations spent (2 or 4 per estimated parameter).</returns>
    /// <exception cref="ArgumentException"><paramref name="destination"/> is not θ's length, a shape does not match, or
    /// an option is out of range (<see cref="ArgumentOutOfRangeException"/>, naming the field).</exception>
    public static long FiniteDifferences<T>(Network<T> network, ReadOnlySpan<T> x, ReadOnlySpan<T> y, Span<double> destination,
        GradientCheckOptions? options = null) where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(network);
        options ??= new GradientCheckOptions();
        Check(options);
        if (destination.Length != network.Layout.Count) Shapes.ThrowLengths("destination", destination.Length, "theta", network.Layout.Count);
        using var ws = WorkspaceFor(network, x, options);
        var indices = Indices(network.Layout.Count, options.Sample, options.Seed);
        double step = StepOf<T>(options);
        destination.Fill(double.NaN);
        foreach (int i in indices) destination[i] = Estimate(network, x, y, ws, i, options.Stencil, step);
        return EvaluationsPerParameter(options.Stencil) * indices.Length;
    }

    /// <summary>ĝᵢ by the stencil, the costs differenced before anything is scaled: a direction along which every
    /// evaluated cost is the same number (a dead ReLU unit's weights) gives exactly 0. The step is the one T can
    /// represent, h' = (θᵢ + h) − θᵢ, and each difference is divided by the distance between the two points actually
    /// evaluated, not by the requested h (in float at θᵢ = 1000, h = 10⁻³ is taken as 9.766·10⁻⁴). θᵢ is restored.</summary>
    private static double Estimate<T>(Network<T> network, ReadOnlySpan<T> x, ReadOnlySpan<T> y, Workspace<T> ws, int i,
        FiniteDifference stencil, double step) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var theta = network.Parameters;
        T saved = theta[i];
        T h = T.CreateChecked(step * Math.Max(1, Math.Abs(double.CreateChecked(saved))));
        T taken = saved + h - saved;
        if (taken == T.Zero)
            throw new ArgumentOutOfRangeException(nameof(step), step,
                $"Step {step:G3} is below the spacing of {typeof(T).Name} at parameter {i} (θ = {saved}): no step would be taken");
        double fd;
        try
        {
            double s1 = Slope(network, x, y, ws, i, saved + taken, saved - taken);
            if (stencil == FiniteDifference.Central) fd = s1;
            else
            {
                // Richardson: (4·s(h') − s(2h'))/3 = (8[C(θ+h') − C(θ−h')] − [C(θ+2h') − C(θ−2h')]) / 12h'.
                double s2 = Slope(network, x, y, ws, i, saved + (taken + taken), saved - (taken + taken));
                fd = (4 * s1 - s2) / 3;
            }
        }
        finally
        {
            theta[i] = saved;
        }
        return fd;
    }

    /// <summary>(C(θᵢ = plus) − C(θᵢ = minus)) / (plus − minus): the difference first, then the distance between the
    /// points evaluated (exact in double for float θ).</summary>
    private static double Slope<T>(Network<T> network, ReadOnlySpan<T> x, ReadOnlySpan<T> y, Workspace<T> ws, int i, T plus, T minus)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        double d = At(network, x, y, ws, i, plus) - At(network, x, y, ws, i, minus);
        return d / (double.CreateChecked(plus) - double.CreateChecked(minus));
    }

    /// <summary>Refuses options that would make every estimate NaN or meaningless, naming the field.</summary>
    /// <summary>A workspace for the rows of x: [rows × inputs], or [rows × Time × inputs] for a network reading sequences.</summary>
    private static Workspace<T> WorkspaceFor<T>(Network<T> network, ReadOnlySpan<T> x, GradientCheckOptions options)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int time = network.Spec.Layers[0].Input.IsSequence ? options.Time : 1;
        int rows = x.Length / Math.Max(1, network.Spec.Inputs * time);
        return network.CreateWorkspace(Math.Max(1, rows), 1, time);
    }

    private static void Check(GradientCheckOptions options)
    {
        if (options.Time < 1)
            throw new ArgumentOutOfRangeException(nameof(options), options.Time, $"GradientCheckOptions.Time must be at least 1, got {options.Time}");
        if (options.Step is { } step && !(step > 0 && double.IsFinite(step)))
            throw new ArgumentOutOfRangeException(nameof(options), step, $"GradientCheckOptions.Step must be a positive finite number, got {step}");
        if (options.Sample is < 0)
            throw new ArgumentOutOfRangeException(nameof(options), options.Sample, $"GradientCheckOptions.Sample must be non-negative (or null for every parameter), got {options.Sample}");
        if (!(options.Floor > 0 && double.IsFinite(options.Floor)))
            throw new ArgumentOutOfRangeException(nameof(options), options.Floor, $"GradientCheckOptions.Floor must be a positive finite number, got {options.Floor}");
        if (!Enum.IsDefined(options.Stencil))
            throw new ArgumentOutOfRangeException(nameof(options), options.Stencil, $"GradientCheckOptions.Stencil {(int)options.Stencil} is not a FiniteDifference value");
    }

    private static double StepOf<T>(GradientCheckOptions options) where T : unmanaged, IFloatingPointIeee754<T> =>
        options.Step ?? Math.Pow(MachineEpsilon<T>(), options.Stencil == FiniteDifference.Central ? 1.0 / 3 : 1.0 / 5);

    private static long EvaluationsPerParameter(FiniteDifference stencil) => stencil == FiniteDifference.Central ? 2 : 4;

    /// <summary>|g − ĝ| / max(|g|, |ĝ|, floor).</summary>
    public static double RelativeError(double g, double estimate, double floor) =>
        Math.Abs(g - estimate) / Math.Max(Math.Max(Math.Abs(g), Math.Abs(estimate)), floor);

    private static double At<T>(Network<T> network, ReadOnlySpan<T> x, ReadOnlySpan<T> y, Workspace<T> ws, int i, T point)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        network.Parameters[i] = point;
        return double.CreateChecked(network.Cost(x, y, ws));
    }

    private static double MachineEpsilon<T>() where T : unmanaged, IFloatingPointIeee754<T> =>
        typeof(T) == typeof(float) ? MathF.BitIncrement(1f) - 1f : Math.BitIncrement(1.0) - 1.0;

    private static int SlotIndex(ParameterLayout layout, int index)
    {
        var slots = layout.Slots;
        for (int s = 0; s < slots.Length; s++)
            if (index < slots[s].Offset + slots[s].Length) return s;
        return slots.Length - 1;
    }

    private static int[] Indices(int count, int? sample, long seed)
    {
        var all = new int[count];
        for (int i = 0; i < count; i++) all[i] = i;
        if (sample is not { } n || n >= count) return all;
        new SeededRandom(seed).Shuffle(all);
        var picked = all[..Math.Max(0, n)];
        Array.Sort(picked);
        return picked;
    }
}
