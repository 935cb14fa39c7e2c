using System.Numerics;
using System.Numerics.Tensors;
using Backprop.Functional.Kernels;
using CommunityToolkit.HighPerformance.Buffers;

namespace Backprop.Functional;

/// <summary>Hessian-free's Kronecker-factored CG preconditioner (<see cref="HessianFreePreconditioner.KFac"/>): per dense
/// layer M_l = (A + πγ I) ⊗ (G + (γ/π) I) in the [W | b] order (Martens &amp; Grosse 2015, with their factored Tikhonov
/// damping, γ = √λ of the solve), block-diagonal over the layers, applied as z = M⁻¹r.
/// <para><b>Factors.</b> From the m curvature rows of the update, at the current θ: A = (1/m) ĀᵀĀ with Ā = [aˡ⁻¹ | 1]
/// [m × (inputs + 1)], and G = (1/m) DᵀD with D's rows the per-sample gradients ∂ℓᵢ/∂zˡ at targets drawn once per row from
/// the model's predictive distribution (<see cref="KFac{T}.SampleTargets"/>; for the matching output/loss pairs of
/// Hessian-free's Gauss–Newton matrix E[G] is then the Gauss–Newton factor, not the empirical Fisher's). No running
/// averages: the factors are rebuilt every update from the rows the Gv products run on, so M approximates the very
/// matrix CG solves with, and it is fixed during one CG run.</para>
/// <para><b>Inverse.</b> Both factors have rank ≤ m, far below the layer widths of an autoencoder (m = 100 against
/// 785 or 1,000), so the inverses are taken by Woodbury's identity on m × m systems, never on the factors themselves:
/// (A + δI)⁻¹ = (1/δ)(I − Āᵀ(mδ I + ĀĀᵀ)⁻¹Ā), likewise for G with D. For a layer's panel P [outputs × (inputs + 1)]
/// M⁻¹ is (G + δ_g I)⁻¹ P (A + δ_a I)⁻¹, six GEMMs of about outputs·(inputs + 1)·m multiply-adds in all four large
/// ones, i.e. about one Gv product on the same m rows. The m × m Gram matrices ĀĀᵀ and DDᵀ are formed once an update;
/// their damped inverses (Cholesky, <see cref="KFac{T}.DampedInverse"/>) once λ is known.</para>
/// <para>Threads: one update at a time. Allocation: everything rented in the constructor.</para></summary>
/// <typeparam name="T">The element type.</typeparam>
internal sealed class KFacPreconditioner<T> : IPreconditioner<T>, IDisposable where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly NetworkSpec _spec;
    private readonly int _threads;
    private readonly int[] _inputs, _outputs;
    private readonly int[] _abar, _d, _gramA, _gramG, _ka, _kg;   // per layer: offsets into _store
    private readonly double[] _traceA, _traceG, _scale;
    private readonly bool[] _identity;                               // a layer whose damped Gram matrix would not factorise
    private readonly MemoryOwner<T> _store, _sampled, _square, _row, _panel, _u, _v, _s, _s2;
    private SeededRandom _random;
    private int _rows;
    private bool _ready;

    /// <summary>The preconditioner of <paramref name="spec"/> (every layer dense, features) on up to
    /// <paramref name="rows"/> curvature rows.</summary>
    /// <exception cref="ArgumentException">A layer is not dense or reads or gives sequences (the message names it).</exception>
    internal KFacPreconditioner(NetworkSpec spec, int rows, int threads, long seed)
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentOutOfRangeException.ThrowIfLessThan(rows, 1);
        for (int l = 0; l < spec.Layers.Count; l++)
        {
            var layer = spec.Layers[l];
            if (layer is not Dense || layer.Input.IsSequence || layer.Output.IsSequence)
                throw new ArgumentException($"the K-FAC preconditioner of Hessian-free has Kronecker factors for dense feature layers only: layer {l} ({layer.Kind}, {layer.Input} → {layer.Output}) is not one; use Preconditioner = Diagonal for {spec}", nameof(spec));
        }
        _spec = spec;
        _threads = threads;
        MaxRows = rows;
        _random = new SeededRandom(seed);
        int count = spec.Layers.Count;
        _inputs = new int[count];
        _outputs = new int[count];
        _abar = new int[count];
        _d = new int[count];
        _gramA = new int[count];
        _gramG = new int[count];
        _ka = new int[count];
        _kg = new int[count];
        _traceA = new double[count];
        _traceG = new double[count];
        _scale = new double[count];
        _identity = new bool[count];
        long offset = 0, panel = 0, wide = 0;
        long square = (long)rows * rows;
        for (int l = 0; l < count; l++)
        {
            var dense = (Dense)spec.Layers[l];
            int na = dense.Inputs + 1, o = dense.Outputs;
            _inputs[l] = dense.Inputs;
            _outputs[l] = o;
            _abar[l] = KFac<T>.Offset(offset);
            _d[l] = KFac<T>.Offset(offset += (long)rows * na);
            _gramA[l] = KFac<T>.Offset(offset += (long)rows * o);
            _gramG[l] = KFac<T>.Offset(offset += square);
            _ka[l] = KFac<T>.Offset(offset += square);
            _kg[l] = KFac<T>.Offset(offset += square);
            offset += square;
            panel = Math.Max(panel, (long)o * na);
            wide = Math.Max(wide, Math.Max(na, o));
        }
        long total = offset + square + panel + 4 * wide * rows;   // everything allocated below but the targets and one row
        if (total > KFac<T>.MaxFactorValues)
            throw new ArgumentOutOfRangeException(nameof(rows), string.Create(System.Globalization.CultureInfo.InvariantCulture,
                $"the K-FAC preconditioner of {spec} on {rows} rows needs {total:N0} values, more than {KFac<T>.MaxFactorValues:N0} (ParameterLayout.MaxCount); use fewer curvature rows, or Preconditioner = Diagonal"));
        _store = MemoryOwner<T>.Allocate(checked((int)offset), AllocationMode.Clear);
        _sampled = MemoryOwner<T>.Allocate(checked(rows * spec.Outputs), AllocationMode.Clear);
        _square = MemoryOwner<T>.Allocate(checked((int)square), AllocationMode.Clear);
        _row = MemoryOwner<T>.Allocate(rows, AllocationMode.Clear);
        _panel = MemoryOwner<T>.Allocate(checked((int)panel), AllocationMode.Clear);
        _u = MemoryOwner<T>.Allocate(checked((int)(wide * rows)), AllocationMode.Clear);
        _v = MemoryOwner<T>.Allocate(checked((int)(wide * rows)), AllocationMode.Clear);
        _s = MemoryOwner<T>.Allocate(checked((int)(wide * rows)), AllocationMode.Clear);
        _s2 = MemoryOwner<T>.Allocate(checked((int)(wide * rows)), AllocationMode.Clear);
    }

    /// <summary>The most rows <see cref="Prepare"/> takes.</summary>
    internal int MaxRows { get; }

    /// <summary>Whether the last <see cref="Prepare"/> gave factors (else M is the identity).</summary>
    internal bool Ready => _ready;

    /// <summary>The rows of the last <see cref="Prepare"/>.</summary>
    internal int Rows => _rows;

    /// <summary>Ā = [aˡ⁻¹ | 1] of layer <paramref name="layer"/>, [rows × (inputs + 1)] (for tests).</summary>
    internal ReadOnlySpan<T> InputRows(int layer) => _store.Span.Slice(_abar[layer], _rows * (_inputs[layer] + 1));

    /// <summary>D, the per-sample ∂ℓᵢ/∂zˡ of layer <paramref name="layer"/> at the drawn targets, [rows × outputs] (for tests).</summary>
    internal ReadOnlySpan<T> OutputRows(int layer) => _store.Span.Slice(_d[layer], _rows * _outputs[layer]);

    /// <summary>The targets drawn by the last <see cref="Prepare"/>, [rows × outputs] (for tests).</summary>
    internal ReadOnlySpan<T> SampledTargets => _sampled.Span[..(_rows * _spec.Outputs)];

    /// <summary>After <see cref="Curvature.Forward{T}"/> on the curvature rows <paramref name="x"/>, on their first
    /// <paramref name="rows"/> (at most <see cref="MaxRows"/>): draws targets from the model, copies Ā, runs the backward pass at the drawn targets (this overwrites the workspace's δ, not z or a, so Gauss–Newton
    /// products that follow read the same forward pass) and forms the Gram matrices. A non-finite cost at the drawn targets leaves
    /// M the identity for this update.</summary>
    internal void Prepare(ReadOnlySpan<T> theta, ReadOnlySpan<T> x, CurvatureWorkspace<T> ws, int rows)
    {
        var spec = _spec;
        ArgumentOutOfRangeException.ThrowIfGreaterThan(rows, Math.Min(MaxRows, ws.Rows));
        ArgumentOutOfRangeException.ThrowIfLessThan(rows, 1);
        int last = spec.Layers.Count - 1;
        x = x[..(rows * spec.Inputs)];
        _rows = rows;
        _ready = false;
        var sampled = _sampled.Span[..(rows * spec.Outputs)];
        KFac<T>.SampleTargets(spec.Loss, ws.Primal.A(last, rows), spec.Outputs, ref _random, sampled);
        var store = _store.Span;
        for (int l = 0; l <= last; l++)
        {
            int inputs = _inputs[l], na = inputs + 1;
            ReadOnlySpan<T> a = l == 0 ? x[..(rows * inputs)] : ws.Primal.A(l - 1, rows);
            var abar = store.Slice(_abar[l], rows * na);
            for (int r = 0; r < rows; r++)
            {
                a.Slice(r * inputs, inputs).CopyTo(abar.Slice(r * na, inputs));
                abar[(r * na) + inputs] = T.One;
            }
        }
        T cost = Equations.Deltas(spec, theta, x, sampled, ws.Primal);
        if (!T.IsFinite(cost)) return;
        T m = T.CreateChecked(rows);
        double inverseRows = 1.0 / rows;
        for (int l = 0; l <= last; l++)
        {
            int na = _inputs[l] + 1, o = _outputs[l];
            var d = store.Slice(_d[l], rows * o);
            TensorPrimitives.Multiply(ws.Primal.Delta(l, rows), m, d);   // δ of the mean cost carries 1/m
            var abar = store.Slice(_abar[l], rows * na);
            var gramA = store.Slice(_gramA[l], rows * rows);
            var gramG = store.Slice(_gramG[l], rows * rows);
            Gemm.Multiply<T>(abar, false, abar, true, gramA, rows, rows, na, accumulate: false, _threads);
            Gemm.Multiply<T>(d, false, d, true, gramG, rows, rows, o, accumulate: false, _threads);
            _traceA[l] = Trace(gramA, rows) * inverseRows;   // tr A = (1/m) tr ĀĀᵀ
            _traceG[l] = Trace(gramG, rows) * inverseRows;
        }
        _ready = true;
    }

    /// <summary>The damped inverses for λ = <paramref name="lambda"/>: per layer γ = √λ, π = √((tr A/(inputs + 1)) /
    /// (tr G/outputs)) (1 when a trace is 0 or not finite), δ_a = πγ, δ_g = γ/π, then (mδ I + ĀĀᵀ)⁻¹ and (mδ_g I + DDᵀ)⁻¹.</summary>
    internal void Damp(double lambda)
    {
        if (!_ready) return;
        int rows = _rows;
        var store = _store.Span;
        double gamma = Math.Sqrt(lambda);
        for (int l = 0; l < _inputs.Length; l++)
        {
            int na = _inputs[l] + 1, o = _outputs[l];
            double ta = _traceA[l], tg = _traceG[l];
            double pi = Math.Sqrt(ta / na / (tg / o));
            if (!(ta > 0 && tg > 0 && double.IsFinite(pi) && pi > 0)) pi = 1;
            double da = pi * gamma, dg = gamma / pi;
            bool ok = KFac<T>.DampedInverse(store.Slice(_gramA[l], rows * rows), rows, rows * da, store.Slice(_ka[l], rows * rows), _square.Span, _row.Span, _threads)
                && KFac<T>.DampedInverse(store.Slice(_gramG[l], rows * rows), rows, rows * dg, store.Slice(_kg[l], rows * rows), _square.Span, _row.Span, _threads);
            _identity[l] = !ok;
            _scale[l] = 1 / (da * dg);
        }
    }

    /// <summary>z = M⁻¹r layer by layer: P ← P − (PĀᵀ)K_a Ā, then P ← P − Dᵀ K_g (D P), then P/(δ_a δ_g), with P the
    /// layer's [W | b] panel of r.</summary>
    public void Apply(ReadOnlySpan<T> r, Span<T> z)
    {
        if (!_ready)
        {
            r.CopyTo(z);
            return;
        }
        int rows = _rows;
        var store = _store.Span;
        var layout = _spec.Layout;
        for (int l = 0; l < _inputs.Length; l++)
        {
            int inputs = _inputs[l], o = _outputs[l], na = inputs + 1;
            int w = layout.Weight(l).Offset, b = layout.Bias(l).Offset;
            if (_identity[l])
            {
                r.Slice(layout.LayerOffset(l), layout.LayerLength(l)).CopyTo(z.Slice(layout.LayerOffset(l), layout.LayerLength(l)));
                continue;
            }
            var p = _panel.Span[..(o * na)];
            KFac<T>.ToPanel(r, w, b, inputs, o, p);
            ReadOnlySpan<T> abar = store.Slice(_abar[l], rows * na), d = store.Slice(_d[l], rows * o);
            var u = _u.Span[..(o * rows)];
            var v = _v.Span[..(o * rows)];
            var s = _s.Span[..(rows * na)];
            var s2 = _s2.Span[..(rows * na)];
            // Right factor: P ← P − (P Āᵀ) K_a Ā.
            Gemm.Multiply<T>(p, false, abar, true, u, o, rows, na, accumulate: false, _threads);
            Gemm.Multiply<T>(u, false, store.Slice(_ka[l], rows * rows), false, v, o, rows, rows, accumulate: false, _threads);
            TensorPrimitives.Negate(v, v);
            Gemm.Multiply<T>(v, false, abar, false, p, o, na, rows, accumulate: true, _threads);
            // Left factor: P ← P − Dᵀ K_g (D P).
            Gemm.Multiply<T>(d, false, p, false, s, rows, na, o, accumulate: false, _threads);
            Gemm.Multiply<T>(store.Slice(_kg[l], rows * rows), false, s, false, s2, rows, na, rows, accumulate: false, _threads);
            TensorPrimitives.Negate(s2, s2);
            Gemm.Multiply<T>(d, true, s2, false, p, o, na, rows, accumulate: true, _threads);
            TensorPrimitives.Multiply(p, T.CreateChecked(_scale[l]), p);
            KFac<T>.FromPanel(p, w, b, inputs, o, z);
        }
    }

    private static double Trace(ReadOnlySpan<T> m, int n)
    {
        double t = 0;
        for (int k = 0; k < n; k++) t += double.CreateChecked(m[(k * n) + k]);
        return t;
    }

    /// <summary>Returns the buffers to the pool.</summary>
    public void Dispose()
    {
        _store.Dispose();
        _sampled.Dispose();
        _square.Dispose();
        _row.Dispose();
        _panel.Dispose();
        _u.Dispose();
        _v.Dispose();
        _s.Dispose();
        _s2.Dispose();
    }
}
