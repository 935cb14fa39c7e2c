using System.Numerics;
using System.Numerics.Tensors;
using CommunityToolkit.HighPerformance.Buffers;

namespace Backprop.Functional;

/// <summary>Per-layer diagnostics read off a training step: ‖δˡ‖, ‖∂C/∂Wˡ‖, ‖∂C/∂bˡ‖, the update ratio ‖ΔWˡ‖/‖Wˡ‖,
/// and the fractions of saturated, dead and low-activation units (<see cref="LayerDiagnostics"/> defines each). Call
/// <see cref="Observe"/> after each step; <see cref="Report"/> gives the figures of the steps since the last
/// <see cref="Reset"/> (one batch, an epoch …). <see cref="Trainer.Fit{T}(Network{T}, Dataset, Dataset?, TrainingOptions, FitHooks{T}?, CancellationToken)"/>
/// calls it when given one in <see cref="FitHooks{T}.Probe"/>.
/// <para>What it reads is what the step left behind, nothing is recomputed: zˡ (a dense layer's scratch), aˡ and δˡ in
/// the <see cref="Workspace{T}"/>, ∂C/∂θ in the gradient vector. For the update ratio it keeps a copy of θ from before
/// the step (<see cref="Begin"/>, then each <see cref="Observe"/> refreshes it): one pass over θ per step, the
/// largest part of its cost. A one-sample dense step may be fused (<see cref="StepMode.Fused"/>: ∂C/∂θ never stored);
/// for a one-sample dense layer the probe therefore takes ‖∂C/∂Wˡ‖ = ‖δˡ‖·‖aˡ⁻¹‖ and ‖∂C/∂bˡ‖ = ‖δˡ‖, which is the
/// stored gradient's norm exactly (the outer product of two vectors).</para>
/// <para>Kinds other than dense (recurrent layers) report their gradient norms and update ratio only: their workspace
/// buffers hold gates and states, not one z and δ per unit.</para>
/// <para>Allocates nothing in <see cref="Begin"/>, <see cref="Observe"/> and <see cref="Reset"/>: the sums live in
/// arrays made once, θ's copy in a pooled buffer returned on <see cref="Dispose"/>. <see cref="Report"/> makes the
/// immutable result (once per window).</para>
/// <para>Threads: one thread at a time, like the workspace it reads.</para></summary>
/// <typeparam name="T">The network's element type.</typeparam>
public sealed class LayerProbe<T> : IDisposable where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly Layer[] _layers;
    private readonly ParameterLayout _layout;
    private readonly double[] _delta, _weight, _bias, _ratio;     // per layer, summed over the window's steps
    private readonly long[] _saturated, _low, _values;            // per layer, (sample, unit) counts over the window
    private readonly bool[][] _alive;                              // per ReLU layer, per unit: positive on some sample
    private readonly T[] _saturatedAbove;                          // per layer: |z| threshold (NaN: not counted)
    private readonly T _lowActivation;
    private readonly MemoryOwner<T> _previous;                     // θ before the next step
    private bool _hasPrevious;
    private long _steps, _samples, _ratioSteps;

    /// <summary>A probe for networks of <paramref name="spec"/>.</summary>
    /// <param name="spec">The network's description.</param>
    /// <param name="options">Thresholds (null: <see cref="LayerProbeOptions"/>' defaults).</param>
    public LayerProbe(NetworkSpec spec, LayerProbeOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(spec);
        Spec = spec;
        Options = options ?? new LayerProbeOptions();
        _layers = [.. spec.Layers];
        _layout = spec.Layout;
        int n = _layers.Length;
        (_delta, _weight, _bias, _ratio) = (new double[n], new double[n], new double[n], new double[n]);
        (_saturated, _low, _values) = (new long[n], new long[n], new long[n]);
        _alive = new bool[n][];
        _saturatedAbove = new T[n];
        for (int l = 0; l < n; l++)
        {
            _saturatedAbove[l] = T.NaN;
            if (_layers[l] is not Dense d) { _alive[l] = []; continue; }
            _alive[l] = d.Activation == ActivationKind.ReLU ? new bool[d.Outputs] : [];
            if (Options.SaturatedAbove(d.Activation) is { } above) _saturatedAbove[l] = T.CreateChecked(above);
        }
        _lowActivation = T.CreateChecked(Options.LowActivation);
        _previous = MemoryOwner<T>.Allocate(_layout.Count, AllocationMode.Clear);
    }

    /// <summary>The network's description.</summary>
    public NetworkSpec Spec { get; }

    /// <summary>The thresholds.</summary>
    public LayerProbeOptions Options { get; }

    /// <summary>Steps observed since the last <see cref="Reset"/>.</summary>
    public long Steps => _steps;

    /// <summary>Remembers θ before the next step, so that <see cref="Observe"/> can measure ‖ΔWˡ‖. Needed once: each
    /// Observe keeps the θ it saw for the step after.</summary>
    /// <exception cref="ArgumentException">θ is not of this network's length.</exception>
    public void Begin(ReadOnlySpan<T> theta)
    {
        if (theta.Length != _layout.Count) ThrowLength("theta", theta.Length);
        theta.CopyTo(_previous.Span);
        _hasPrevious = true;
    }

    /// <summary>Adds one step to the window: call it after the step (forward, backward, update) with what it used.</summary>
    /// <param name="theta">θ after the update.</param>
    /// <param name="x">The step's inputs, [rows × inputs].</param>
    /// <param name="ws">The workspace the step ran in (holding its zˡ, aˡ and δˡ).</param>
    /// <param name="gradient">∂C/∂θ of the step (read for the layers the δ formula does not cover; see the class remarks).</param>
    /// <exception cref="ArgumentException">θ or the gradient is not of this network's length, or the workspace is
    /// not for this network or too small for <paramref name="x"/>.</exception>
    public void Observe(ReadOnlySpan<T> theta, ReadOnlySpan<T> x, Workspace<T> ws, ReadOnlySpan<T> gradient)
    {
        ArgumentNullException.ThrowIfNull(ws);
        if (theta.Length != _layout.Count) ThrowLength("theta", theta.Length);
        if (gradient.Length != _layout.Count) ThrowLength("gradient", gradient.Length);
        if (ws.LayerCount != _layers.Length) ThrowWorkspace(ws.LayerCount);
        int rows = ws.RowsOf(x.Length);
        int last = _layers.Length - 1;
        for (int l = 0; l < _layers.Length; l++)
        {
            var slots = _layout.SlotsOf(l);
            var delta = ws.Delta(l, rows);
            if (_layers[l] is Dense d && delta.Length == d.Outputs)
            {
                // One position: ∂C/∂Wˡ = δˡ(aˡ⁻¹)ᵀ, so ‖∂C/∂Wˡ‖ = ‖δˡ‖‖aˡ⁻¹‖; ∂C/∂bˡ = δˡ (true of a fused step too).
                double nd = double.CreateChecked(TensorPrimitives.Norm<T>(delta));
                double na = double.CreateChecked(TensorPrimitives.Norm<T>(l == 0 ? x : ws.A(l - 1, rows)));
                _weight[l] += nd * na;
                _bias[l] += nd;
            }
            else
            {
                double w = 0, b = 0;
                foreach (var slot in slots)
                {
                    double ss = double.CreateChecked(TensorPrimitives.SumOfSquares<T>(slot.Of(gradient)));
                    if (slot.Rank == 2) w += ss; else b += ss;
                }
                _weight[l] += Math.Sqrt(w);
                _bias[l] += Math.Sqrt(b);
            }
            if (_hasPrevious)
            {
                double dw = 0, w = 0;
                ReadOnlySpan<T> previous = _previous.Span;
                foreach (var slot in slots)
                {
                    if (slot.Rank != 2) continue;
                    var now = slot.Of(theta);
                    double distance = double.CreateChecked(TensorPrimitives.Distance<T>(now, slot.Of(previous)));
                    dw += distance * distance;
                    w += double.CreateChecked(TensorPrimitives.SumOfSquares<T>(now));
                }
                _ratio[l] += w > 0 ? Math.Sqrt(dw / w) : dw > 0 ? double.PositiveInfinity : 0;
            }
            if (_layers[l] is not Dense dense) continue;
            _delta[l] += double.CreateChecked(TensorPrimitives.Norm<T>(delta));
            var a = ws.A(l, rows);
            _values[l] += a.Length;
            if (!T.IsNaN(_saturatedAbove[l])) _saturated[l] += CountAbove(ws.Z(l, rows), _saturatedAbove[l]);
            if (l < last) _low[l] += CountBelow(a, _lowActivation);
            if (_alive[l].Length > 0) MarkAlive(a, _alive[l], dense.Outputs);
        }
        theta.CopyTo(_previous.Span);
        if (_hasPrevious) _ratioSteps++;
        _hasPrevious = true;
        _steps++;
        _samples += rows;
    }

    /// <summary>The figures of the steps observed since the last <see cref="Reset"/> (NaN norms when there were none).</summary>
    public ProbeReport Report()
    {
        var layers = new LayerDiagnostics[_layers.Length];
        double steps = _steps;
        int last = _layers.Length - 1;
        for (int l = 0; l < layers.Length; l++)
        {
            double? saturated = null, dead = null, low = null, delta = null;
            if (_layers[l] is Dense)
            {
                delta = _delta[l] / steps;
                if (!T.IsNaN(_saturatedAbove[l])) saturated = Fraction(_saturated[l], _values[l]);
                if (l < last) low = Fraction(_low[l], _values[l]);
                if (_alive[l].Length > 0)
                {
                    int alive = 0;
                    foreach (bool b in _alive[l]) if (b) alive++;
                    dead = _samples == 0 ? double.NaN : (double)(_alive[l].Length - alive) / _alive[l].Length;
                }
            }
            layers[l] = new LayerDiagnostics(l, _layers[l], delta, _weight[l] / steps, _bias[l] / steps,
                _ratioSteps == 0 ? null : _ratio[l] / _ratioSteps, saturated, dead, low);
        }
        return new ProbeReport(_steps, _samples, layers);
    }

    /// <summary>Starts a new window: the sums and unit counts are cleared; the θ kept for the next update ratio is not.</summary>
    public void Reset()
    {
        Array.Clear(_delta);
        Array.Clear(_weight);
        Array.Clear(_bias);
        Array.Clear(_ratio);
        Array.Clear(_saturated);
        Array.Clear(_low);
        Array.Clear(_values);
        foreach (var alive in _alive) Array.Clear(alive);
        _steps = _samples = _ratioSteps = 0;
    }

    /// <summary>Returns θ's copy to the pool.</summary>
    public void Dispose() => _previous.Dispose();

    private static double Fraction(long count, long of) => of == 0 ? double.NaN : (double)count / of;

    private static long CountAbove(ReadOnlySpan<T> z, T above)
    {
        long count = 0;
        foreach (T v in z) if (T.Abs(v) > above) count++;
        return count;
    }

    private static long CountBelow(ReadOnlySpan<T> a, T below)
    {
        long count = 0;
        foreach (T v in a) if (T.Abs(v) < below) count++;
        return count;
    }

    private static void MarkAlive(ReadOnlySpan<T> a, bool[] alive, int units)
    {
        for (int i = 0; i < a.Length; i++)
            if (a[i] > T.Zero) alive[i % units] = true;
    }

    private void ThrowLength(string what, int length) =>
        throw new ArgumentException($"{what} has {length} elements, but the probe's network ({Spec}) has {_layout.Count} parameters");

    private void ThrowWorkspace(int layers) =>
        throw new ArgumentException($"the workspace is for a network of {layers} layers, the probe's ({Spec}) has {_layers.Length}");
}
