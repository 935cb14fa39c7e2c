using System.Collections.Immutable;
using System.Numerics;

namespace Backprop.Functional;

/// <summary>An ODE solved from h(t₀) through several output times t₁ … tₘ for a batch of initial states, and the
/// gradient of any cost of the whole trajectory: the pieces an <see cref="OdeBlock"/> runs for one interval, for
/// fitting dynamics to observations over time. Holds its buffers (allocated once, sized from the description and the
/// rows), so Solve and Gradient allocate nothing.
/// <para>Threads: one instance is used by one thread at a time.</para></summary>
/// <typeparam name="T">float or double.</typeparam>
public sealed class OdeTrajectory<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly OdePlan _plan;
    private readonly T[] _perRow, _perLayer;
    private readonly double[] _times;
    private bool _solved;

    /// <summary>A trajectory through <paramref name="times"/> (at least two, strictly increasing or strictly
    /// decreasing, finite) for <paramref name="rows"/> initial states.</summary>
    public OdeTrajectory(OdeFunction f, OdeSolver solver, IReadOnlyList<double> times, int rows,
        OdeGradient gradient = OdeGradient.Adjoint, int checkpoints = 0, int threads = 1)
    {
        ArgumentNullException.ThrowIfNull(times);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(rows);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(threads);
        if (times.Count < 2) throw new ArgumentException($"a trajectory needs at least two times; {times.Count} given", nameof(times));
        double direction = Math.Sign(times[1] - times[0]);
        for (int i = 0; i < times.Count; i++)
        {
            if (!double.IsFinite(times[i])) throw new ArgumentException($"time {i} is {times[i]}", nameof(times));
            if (i > 0 && (direction == 0 || Math.Sign(times[i] - times[i - 1]) != direction))
                throw new ArgumentException($"the times must be strictly monotone; time {i - 1} is {times[i - 1]} and time {i} is {times[i]}", nameof(times));
            if (i > 0 && !double.IsFinite(times[i] - times[i - 1]))   // e.g. −1e308 to 1e308: each step size would be ∞
                throw new ArgumentException($"the interval from time {i - 1} ({times[i - 1]}) to time {i} ({times[i]}) is longer than a double holds", nameof(times));
        }
        _plan = new OdePlan(f, solver, gradient, checkpoints, times.Count - 1);
        long values = (long)_plan.PerRow * rows;
        if (values > Array.MaxLength) throw new ArgumentOutOfRangeException(nameof(rows), rows, $"{values:N0} values of scratch are more than an array holds");
        _perRow = new T[values];
        _perLayer = new T[_plan.PerLayer];
        _times = [.. times];
        Times = [.. times];
        Rows = rows;
        Threads = threads;
    }

    /// <summary>t₀ … tₘ.</summary>
    public ImmutableArray<double> Times { get; }

    /// <summary>Initial states per solve.</summary>
    public int Rows { get; }

    /// <summary>Threads f's GEMMs may use.</summary>
    public int Threads { get; }

    /// <summary>f.</summary>
    public OdeFunction F => _plan.F;

    /// <summary>Bytes of scratch the solve and its gradient hold: what grows with the steps for
    /// <see cref="OdeGradient.Discretise"/> and does not for the adjoint.</summary>
    public long ScratchBytes => ((long)_perRow.Length + _perLayer.Length) * System.Runtime.CompilerServices.Unsafe.SizeOf<T>();

    /// <summary>Writes h(tₖ) for every time into <paramref name="states"/>, [times × rows × D] (h(t₀) = h₀ first).</summary>
    /// <exception cref="OdeStepLimitException">An adaptive solve could not finish.</exception>
    public OdeStatistics Solve(ReadOnlySpan<T> theta, ReadOnlySpan<T> h0, Span<T> states)
    {
        int nd = Rows * _plan.D;
        Require(theta.Length, _plan.P, "θ");
        Require(h0.Length, nd, "h₀");
        Require(states.Length, checked(_times.Length * nd), "states");
        for (int i = 0; i < h0.Length; i++)
            if (!T.IsFinite(h0[i]))
                throw new ArgumentException($"h₀ holds {h0[i]} at row {i / _plan.D}, dimension {i % _plan.D}", nameof(h0));
        var b = new OdeBuffers<T>(_plan, _perRow, _perLayer, Rows);
        h0.CopyTo(states);
        _solved = false;
        var stats = OdeEngine<T>.Solve(_plan, theta, _times, h0, states[nd..], ref b, Threads);
        _solved = true;
        return stats;
    }

    /// <summary>∂C/∂h₀ and ∂C/∂θ (both written) from ∂C/∂h(tₖ) for every time (<paramref name="dStates"/>, laid out
    /// as Solve's states), after Solve on the same θ and h₀.</summary>
    public OdeStatistics Gradient(ReadOnlySpan<T> theta, ReadOnlySpan<T> dStates, Span<T> dH0, Span<T> dTheta)
    {
        if (!_solved) throw new InvalidOperationException("Gradient needs a completed Solve on the same θ and h₀ first");
        int nd = Rows * _plan.D;
        Require(theta.Length, _plan.P, "θ");
        Require(dStates.Length, checked(_times.Length * nd), "∂C/∂states");
        Require(dH0.Length, nd, "∂C/∂h₀");
        if (!dTheta.IsEmpty) Require(dTheta.Length, _plan.P, "∂C/∂θ");
        var b = new OdeBuffers<T>(_plan, _perRow, _perLayer, Rows);
        var stats = OdeEngine<T>.Gradient(_plan, theta, _times, dStates[nd..], dH0, dTheta, ref b, Threads);
        System.Numerics.Tensors.TensorPrimitives.Add(dH0, dStates[..nd], dH0);
        return stats;
    }

    private static void Require(int length, int expected, string name)
    {
        if (length != expected) throw new ArgumentException($"{name} has {length:N0} values; this trajectory needs {expected:N0}", name);
    }
}
