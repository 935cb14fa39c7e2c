using System.Numerics;

namespace Backprop.Functional;

/// <summary>Options of a <see cref="GradientCheck"/>.
/// <para>Threads: immutable, so one instance can be shared by any number of threads.</para></summary>
/// <param name="Stencil">Finite-difference stencil.</param>
/// <param name="Step">Relative step: hᵢ = Step · max(1, |θᵢ|), taken as the step T can represent,
/// h'ᵢ = (θᵢ + hᵢ) − θᵢ, and divided by that (positive, finite). Null picks ε^(1/2) for the forward stencil, ε^(1/3)
/// for the central one and ε^(1/5) for the five-point one (ε the machine epsilon of T), which balance truncation and
/// rounding error.</param>
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
/// <param name="LossEvaluations">Cost evaluations the finite differences made, counted as they were made (forward:
/// N + 1, central: 2N, five-point: 4N for N parameters checked), against backprop's one forward and one backward pass
/// for all of them: the reason backprop exists.</param>
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

/// <summary>A cost C(θ) at the θ it is given, for <see cref="GradientCheck.FiniteDifferences{T}(CostFunction{T}, Span{T}, Span{double}, GradientCheckOptions?)"/>.</summary>
/// <typeparam name="T">The number type of θ.</typeparam>
/// <param name="theta">θ, with one entry perturbed by the stencil.</param>
/// <returns>C(θ).</returns>
public delegate double CostFunction<T>(ReadOnlySpan<T> theta);

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
        var cost = new NetworkCost<T>(network, x, y, ws);
        var theta = network.Parameters;
        long evaluations = 0;
        double c0 = Baseline(ref cost, theta, options.Stencil, indices.Length, ref evaluations);
        foreach (int i in indices)
        {
            double fd = Estimate(ref cost, theta, i, options.Stencil, step, c0, ref evaluations);
            double g = double.CreateChecked(gradient.Span[i]);
            double err = RelativeError(g, fd, options.Floor);
            int slot = SlotIndex(layout, i);
            var cur = perSlot[slot];
            perSlot[slot] = err > cur.MaxRelativeError || cur.WorstIndex < 0
                ? new SlotError(cur.Slot, cur.Checked + 1, err, i, g, fd)
                : cur with { Checked = cur.Checked + 1 };
        }
        return new GradientCheckReport(perSlot, indices.Length, evaluations);
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
    /// <returns>The cost evaluations made, counted as they were made (N + 1, 2N or 4N for N estimated parameters).</returns>
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
        var cost = new NetworkCost<T>(network, x, y, ws);
        return EstimateAll(ref cost, network.Parameters, indices, options.Stencil, step, destination);
    }

    /// <summary>The finite-difference estimate ĝ of ∂C/∂θ for any cost: ĝᵢ into <paramref name="destination"/>[i] for
    /// the parameters <see cref="GradientCheckOptions.Sample"/> picks (every one by default), NaN for the others, each
    /// θᵢ perturbed in place, <paramref name="cost"/> called on the perturbed θ, and θᵢ restored bit for bit.</summary>
    /// <param name="cost">C(θ); called once per evaluation the stencil needs, never anywhere else.</param>
    /// <param name="theta">θ, the point of the estimate; perturbed in place and restored.</param>
    /// <param name="destination">ĝ, written, [θ's length].</param>
    /// <param name="options">Stencil, step and sample; null for the defaults (<see cref="GradientCheckOptions.Time"/> is not used).</param>
    /// <returns>The calls made to <paramref name="cost"/>: N + 1 (forward), 2N (central) or 4N (five-point) for N
    /// estimated parameters.</returns>
    /// <exception cref="ArgumentException"><paramref name="destination"/> is not θ's length, or an option is out of
    /// range (<see cref="ArgumentOutOfRangeException"/>, naming the field).</exception>
    public static long FiniteDifferences<T>(CostFunction<T> cost, Span<T> theta, Span<double> destination,
        GradientCheckOptions? options = null) where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(cost);
        options ??= new GradientCheckOptions();
        Check(options);
        if (destination.Length != theta.Length) Shapes.ThrowLengths("destination", destination.Length, "theta", theta.Length);
        var indices = Indices(theta.Length, options.Sample, options.Seed);
        double step = StepOf<T>(options);
        destination.Fill(double.NaN);
        var wrapped = new DelegateCost<T>(cost);
        return EstimateAll(ref wrapped, theta, indices, options.Stencil, step, destination);
    }

    /// <summary>C(θ) at a point θ (one entry perturbed); a ref struct, so it may hold the batch's spans.</summary>
    private interface ICost<T>
    {
        double At(ReadOnlySpan<T> theta);
    }

    private readonly ref struct NetworkCost<T>(Network<T> network, ReadOnlySpan<T> x, ReadOnlySpan<T> y, Workspace<T> ws) : ICost<T>
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        private readonly ReadOnlySpan<T> _x = x, _y = y;

        // θ is the network's own parameter vector, perturbed in place by the caller.
        public double At(ReadOnlySpan<T> theta) => double.CreateChecked(network.Cost(_x, _y, ws));
    }

    private readonly struct DelegateCost<T>(CostFunction<T> cost) : ICost<T>
    {
        public double At(ReadOnlySpan<T> theta) => cost(theta);
    }

    private static long EstimateAll<T, TCost>(ref TCost cost, Span<T> theta, int[] indices, FiniteDifference stencil,
        double step, Span<double> destination)
        where T : unmanaged, IFloatingPointIeee754<T> where TCost : ICost<T>, allows ref struct
    {
        long evaluations = 0;
        double c0 = Baseline(ref cost, theta, stencil, indices.Length, ref evaluations);
        foreach (int i in indices) destination[i] = Estimate(ref cost, theta, i, stencil, step, c0, ref evaluations);
        return evaluations;
    }

    /// <summary>C(θ) at the unperturbed point, which only the forward stencil uses (once, for all parameters); NaN otherwise.</summary>
    private static double Baseline<T, TCost>(ref TCost cost, Span<T> theta, FiniteDifference stencil, int count, ref long evaluations)
        where T : unmanaged, IFloatingPointIeee754<T> where TCost : ICost<T>, allows ref struct
    {
        if (stencil != FiniteDifference.Forward || count == 0) return double.NaN;
        evaluations++;
        return cost.At(theta);
    }

    /// <summary>ĝᵢ by the stencil, the costs differenced before anything is scaled: a direction along which every
    /// evaluated cost is the same number (a dead ReLU unit's weights) gives exactly 0. The step is the one T can
    /// represent, h' = (θᵢ + h) − θᵢ, and each difference is divided by the distance between the two points actually
    /// evaluated, not by the requested h (in float at θᵢ = 1000, h = 10⁻³ is taken as 9.766·10⁻⁴). θᵢ is restored.
    /// <paramref name="c0"/> is C(θ), used by the forward stencil only; every call of the cost adds one to
    /// <paramref name="evaluations"/>.</summary>
    private static double Estimate<T, TCost>(ref TCost cost, Span<T> theta, int i, FiniteDifference stencil, double step,
        double c0, ref long evaluations)
        where T : unmanaged, IFloatingPointIeee754<T> where TCost : ICost<T>, allows ref struct
    {
        T saved = theta[i];
        T h = T.CreateChecked(step * Math.Max(1, Math.Abs(double.CreateChecked(saved))));
        T taken = saved + h - saved;
        if (taken == T.Zero)
            throw new ArgumentOutOfRangeException(nameof(step), step,
                $"Step {step:G3} is below the spacing of {typeof(T).Name} at parameter {i} (θ = {saved}): no step would be taken");
        double fd;
        try
        {
            if (stencil == FiniteDifference.Forward)
            {
                T plus = saved + taken;
                fd = (At(ref cost, theta, i, plus, ref evaluations) - c0) / (double.CreateChecked(plus) - double.CreateChecked(saved));
            }
            else
            {
                double s1 = Slope(ref cost, theta, i, saved + taken, saved - taken, ref evaluations);
                if (stencil == FiniteDifference.Central) fd = s1;
                else
                {
                    // Richardson: (4·s(h') − s(2h'))/3 = (8[C(θ+h') − C(θ−h')] − [C(θ+2h') − C(θ−2h')]) / 12h'.
                    double s2 = Slope(ref cost, theta, i, saved + (taken + taken), saved - (taken + taken), ref evaluations);
                    fd = (4 * s1 - s2) / 3;
                }
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
    private static double Slope<T, TCost>(ref TCost cost, Span<T> theta, int i, T plus, T minus, ref long evaluations)
        where T : unmanaged, IFloatingPointIeee754<T> where TCost : ICost<T>, allows ref struct
    {
        double d = At(ref cost, theta, i, plus, ref evaluations) - At(ref cost, theta, i, minus, ref evaluations);
        return d / (double.CreateChecked(plus) - double.CreateChecked(minus));
    }

    /// <summary>A workspace for the rows of x: [rows × inputs], or [rows × Time × inputs] for a network reading sequences.</summary>
    private static Workspace<T> WorkspaceFor<T>(Network<T> network, ReadOnlySpan<T> x, GradientCheckOptions options)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int time = network.Spec.Layers[0].Input.IsSequence ? options.Time : 1;
        int rows = x.Length / Math.Max(1, network.Spec.Inputs * time);
        return network.CreateWorkspace(Math.Max(1, rows), 1, time);
    }

    /// <summary>Refuses options that would make every estimate NaN or meaningless, naming the field.</summary>
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
        options.Step ?? Math.Pow(MachineEpsilon<T>(), options.Stencil switch
        {
            FiniteDifference.Forward => 1.0 / 2,
            FiniteDifference.Central => 1.0 / 3,
            _ => 1.0 / 5,
        });

    /// <summary>|g − ĝ| / max(|g|, |ĝ|, floor).</summary>
    public static double RelativeError(double g, double estimate, double floor) =>
        Math.Abs(g - estimate) / Math.Max(Math.Max(Math.Abs(g), Math.Abs(estimate)), floor);

    private static double At<T, TCost>(ref TCost cost, Span<T> theta, int i, T point, ref long evaluations)
        where T : unmanaged, IFloatingPointIeee754<T> where TCost : ICost<T>, allows ref struct
    {
        theta[i] = point;
        evaluations++;
        return cost.At(theta);
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
