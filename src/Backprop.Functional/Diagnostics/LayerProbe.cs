using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.InteropServices;
using CommunityToolkit.HighPerformance.Buffers;

namespace Backprop.Functional;

/// <summary>Per-layer diagnostics read off a training step: ‖δˡ‖, ‖∂C/∂Wˡ‖, ‖∂C/∂bˡ‖, the update ratio ‖ΔWˡ‖/‖Wˡ‖,
/// and the fractions of saturated, dead and low-activation units (<see cref="LayerDiagnostics"/> defines each). Call
/// <see cref="Observe"/> after each step; <see cref="Report"/> gives the figures of the steps since the last
/// <see cref="Reset"/> (one batch, an epoch …). <see cref="Trainer.Fit{T}(Network{T}, Dataset, Dataset?, TrainingOptions, FitHooks{T}?, CancellationToken)"/>
/// calls it when given one in <see cref="FitHooks{T}.Probe"/>.
/// <para>What it reads is what the step left behind, nothing is recomputed: zˡ (a dense layer's scratch), aˡ and δˡ in
/// the <see cref="Workspace{T}"/>, ∂C/∂θ in the gradient vector. For the update ratio it keeps a copy of θ from before
/// the step (<see cref="Begin"/>, or the Observe of the step before keeps the θ it saw), fused with the pass over ∂C/∂θ:
/// those passes over θ are most of its cost, so the ratio is measured on one step read in
/// <see cref="LayerProbeOptions.RatioEvery"/> (default 4; the step before it copies θ). <see cref="LayerProbeOptions.Every"/>
/// = k reads one step in k (steps k, 2k, …), for k times less. A one-sample dense step may be fused (<see cref="StepMode.Fused"/>: ∂C/∂θ never stored);
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
    private readonly T[][] _alive;                                 // per ReLU layer, per unit: its largest a (alive once > 0)
    private readonly T[] _saturatedAbove;                          // per layer: |z| threshold (NaN: not counted)
    private readonly T _lowActivation;
    private readonly MemoryOwner<T> _previous;                     // θ before the next step
    private readonly int _every;                                   // one step in _every is read
    private readonly long _ratioPeriod;                            // the update ratio: steps _ratioPeriod, 2·_ratioPeriod …
    private bool _hasPrevious;
    private long _observed;                                        // steps shown to Observe, never reset
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
        _alive = new T[n][];
        _saturatedAbove = new T[n];
        for (int l = 0; l < n; l++)
        {
            _saturatedAbove[l] = T.NaN;
            if (_layers[l] is not Dense d) { _alive[l] = []; continue; }
            _alive[l] = d.Activation == ActivationKind.ReLU ? new T[d.Outputs] : [];
            if (Options.SaturatedAbove(d.Activation) is { } above) _saturatedAbove[l] = T.CreateChecked(above);
        }
        _lowActivation = T.CreateChecked(Options.LowActivation);
        _every = Options.Every;
        _ratioPeriod = (long)Options.Every * Options.RatioEvery;
        _previous = MemoryOwner<T>.Allocate(_layout.Count, AllocationMode.Clear);
    }

    /// <summary>The network's description.</summary>
    public NetworkSpec Spec { get; }

    /// <summary>The thresholds.</summary>
    public LayerProbeOptions Options { get; }

    /// <summary>Steps read since the last <see cref="Reset"/> (one in <see cref="LayerProbeOptions.Every"/> of those shown).</summary>
    public long Steps => _steps;

    /// <summary>Remembers θ before the next step, so that <see cref="Observe"/> can measure ‖ΔWˡ‖ on it. Needed once:
    /// after that the Observe before each step read keeps the θ it saw.</summary>
    /// <exception cref="ArgumentException">θ is not of this network's length.</exception>
    public void Begin(ReadOnlySpan<T> theta)
    {
        if (theta.Length != _layout.Count) ThrowLength("theta", theta.Length);
        theta.CopyTo(_previous.Span);
        _hasPrevious = true;
    }

    /// <summary>Shows the probe one step: call it after each step (forward, backward, update) with what it used. It adds
    /// the step to the window when the step is one it reads (<see cref="LayerProbeOptions.Every"/>).</summary>
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
        long number = ++_observed;
        // θ is kept after step n when step n + 1 is one whose update ratio is measured (steps P, 2P, … with
        // P = Every · RatioEvery); the ratio is measured on a step read right after such a copy (or after Begin).
        bool keep = (number + 1) % _ratioPeriod == 0;
        if (number % _every != 0)
        {
            if (keep) theta.CopyTo(_previous.Span);
            _hasPrevious = keep;
            return;
        }
        int last = _layers.Length - 1;
        for (int l = 0; l < _layers.Length; l++)
        {
            var slots = _layout.SlotsOf(l);
            var delta = ws.Delta(l, rows);
            // One pass over each weight matrix: ‖∂C/∂W‖², ‖ΔW‖² against the θ kept from before the step, ‖W‖², and
            // θ kept for the next step. Biases: ‖∂C/∂b‖² only (the ratio is over the matrices).
            double w = 0, b = 0, dw = 0, ww = 0;
            Span<T> previous = _previous.Span;
            foreach (var slot in slots)
            {
                var sums = WeightPass(slot.Of(theta), slot.Of(previous), slot.Of(gradient), _hasPrevious && slot.Rank == 2, keep && slot.Rank == 2);
                if (slot.Rank == 2) { w += sums.Gradient; dw += sums.Change; ww += sums.Weight; } else b += sums.Gradient;
            }
            if (_layers[l] is Dense d && delta.Length == d.Outputs)
            {
                // One position: ∂C/∂Wˡ = δˡ(aˡ⁻¹)ᵀ, so ‖∂C/∂Wˡ‖ = ‖δˡ‖‖aˡ⁻¹‖; ∂C/∂bˡ = δˡ (true of a fused step too,
                // which never stores the gradient the pass above read).
                double nd = double.CreateChecked(TensorPrimitives.Norm<T>(delta));
                double na = double.CreateChecked(TensorPrimitives.Norm<T>(l == 0 ? x : ws.A(l - 1, rows)));
                _weight[l] += nd * na;
                _bias[l] += nd;
            }
            else
            {
                _weight[l] += Math.Sqrt(w);
                _bias[l] += Math.Sqrt(b);
            }
            if (_hasPrevious) _ratio[l] += ww > 0 ? Math.Sqrt(dw / ww) : dw > 0 ? double.PositiveInfinity : 0;
            if (_layers[l] is not Dense dense) continue;
            _delta[l] += double.CreateChecked(TensorPrimitives.Norm<T>(delta));
            var a = ws.A(l, rows);
            _values[l] += a.Length;
            if (!T.IsNaN(_saturatedAbove[l])) _saturated[l] += Count(ws.Z(l, rows), _saturatedAbove[l], below: false);
            if (l < last) _low[l] += Count(a, _lowActivation, below: true);
            if (_alive[l].Length > 0) MarkAlive(a, _alive[l], dense.Outputs);
        }
        if (_hasPrevious) _ratioSteps++;
        _hasPrevious = keep;
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
                    foreach (T peak in _alive[l]) if (peak > T.Zero) alive++;
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

    /// <summary>Σg², and when <paramref name="measure"/> Σ(θ − θ₀)² and Σθ², over one tensor; then, when
    /// <paramref name="keep"/>, θ₀ ← θ. Summed
    /// in vector lanes over blocks of at most 4096 elements, each block's lanes added in double.</summary>
    private static (double Gradient, double Change, double Weight) WeightPass(ReadOnlySpan<T> now, Span<T> previous, ReadOnlySpan<T> g, bool measure, bool keep)
    {
        double sg = 0, sd = 0, sw = 0;
        int i = 0;
        if (Vector.IsHardwareAccelerated && Vector<T>.IsSupported)
        {
            // Two accumulators per sum (the adds' latency, not the loads, bounds one), refs instead of slices (no
            // bounds checks), blocks of 4096 so a float lane's sum stays exact enough before it moves to double.
            int count = Vector<T>.Count, pair = 2 * count;
            ref T rn = ref MemoryMarshal.GetReference(now);
            ref T rp = ref MemoryMarshal.GetReference(previous);
            ref T rg = ref MemoryMarshal.GetReference(g);
            while (i <= now.Length - pair)
            {
                int end = Math.Min(now.Length - pair, i + 4096);
                Vector<T> g0 = Vector<T>.Zero, g1 = Vector<T>.Zero, d0 = Vector<T>.Zero, d1 = Vector<T>.Zero, w0 = Vector<T>.Zero, w1 = Vector<T>.Zero;
                for (; i <= end; i += pair)
                {
                    var ga = Vector.LoadUnsafe(ref rg, (nuint)i);
                    var gb = Vector.LoadUnsafe(ref rg, (nuint)(i + count));
                    g0 += ga * ga;
                    g1 += gb * gb;
                    if (!measure && !keep) continue;
                    var na = Vector.LoadUnsafe(ref rn, (nuint)i);
                    var nb = Vector.LoadUnsafe(ref rn, (nuint)(i + count));
                    if (measure)
                    {
                        var da = na - Vector.LoadUnsafe(ref rp, (nuint)i);
                        var db = nb - Vector.LoadUnsafe(ref rp, (nuint)(i + count));
                        d0 += da * da;
                        d1 += db * db;
                        w0 += na * na;
                        w1 += nb * nb;
                    }
                    if (keep)
                    {
                        na.StoreUnsafe(ref rp, (nuint)i);
                        nb.StoreUnsafe(ref rp, (nuint)(i + count));
                    }
                }
                sg += double.CreateChecked(Vector.Sum(g0 + g1));
                sd += double.CreateChecked(Vector.Sum(d0 + d1));
                sw += double.CreateChecked(Vector.Sum(w0 + w1));
            }
        }
        for (; i < now.Length; i++)
        {
            double n = double.CreateChecked(now[i]), d = n - double.CreateChecked(previous[i]), gi = double.CreateChecked(g[i]);
            sg += gi * gi;
            if (measure) { sd += d * d; sw += n * n; }
            if (keep) previous[i] = now[i];
        }
        return (sg, sd, sw);
    }

    /// <summary>How many of <paramref name="values"/> have |v| &gt; <paramref name="limit"/> (or, with
    /// <paramref name="below"/>, |v| &lt; limit).</summary>
    private static long Count(ReadOnlySpan<T> values, T limit, bool below)
    {
        long count = 0;
        int i = 0;
        if (Vector.IsHardwareAccelerated && Vector<T>.IsSupported)
        {
            int lanes = Vector<T>.Count;
            var vl = new Vector<T>(limit);
            while (i <= values.Length - lanes)
            {
                int end = Math.Min(values.Length - lanes, i + 4096);   // a lane counts at most 4096 / lanes: exact in any T
                var vc = Vector<T>.Zero;
                for (; i <= end; i += lanes)
                {
                    var v = Vector.Abs(new Vector<T>(values[i..]));
                    vc += Vector.ConditionalSelect(below ? Vector.LessThan(v, vl) : Vector.GreaterThan(v, vl), Vector<T>.One, Vector<T>.Zero);
                }
                count += long.CreateChecked(Vector.Sum(vc));
            }
        }
        for (; i < values.Length; i++)
            if (below ? T.Abs(values[i]) < limit : T.Abs(values[i]) > limit) count++;
        return count;
    }

    /// <summary>peak ← max(peak, row) for each row of <paramref name="a"/> [rows × units]: a unit is alive once its peak is positive.</summary>
    private static void MarkAlive(ReadOnlySpan<T> a, Span<T> peak, int units)
    {
        for (int r = 0; r + units <= a.Length; r += units)
            TensorPrimitives.Max(a.Slice(r, units), peak, peak);
    }

    private void ThrowLength(string what, int length) =>
        throw new ArgumentException($"{what} has {length} elements, but the probe's network ({Spec}) has {_layout.Count} parameters");

    private void ThrowWorkspace(int layers) =>
        throw new ArgumentException($"the workspace is for a network of {layers} layers, the probe's ({Spec}) has {_layers.Length}");
}
