using System.Numerics;
using System.Numerics.Tensors;
using Backprop.Functional.Kernels;
using CommunityToolkit.HighPerformance.Buffers;

namespace Backprop.Functional;

/// <summary>K-FAC (Martens &amp; Grosse 2015) for dense networks: each layer's block of the Fisher approximated by
/// G ⊗ A, A = E[ā āᵀ] of its input ā = [aˡ⁻¹; 1] and G = E[g gᵀ] of the per-sample pre-activation gradient g = ∂ℓ/∂zˡ
/// with targets drawn from the model; the step is [ΔW | Δb] = −η ν (G + (γ/π) I)⁻¹ [∇W | ∇b] (A + πγ I)⁻¹ per layer,
/// γ = √λ, then optional heavy-ball momentum.
/// <para>Threads: one step at a time.</para></summary>
/// <typeparam name="T">The element type (float or double).</typeparam>
/// <remarks>
/// <para><b>Factors.</b> For a batch of m rows, A_batch = (1/m) Σ ā āᵀ [(inputs + 1)²], the bias last so that the order is
/// that of [W | b] (W [outputs × inputs] row-major with b as one more column); G_batch = (1/m) Σ g gᵀ [outputs²] with g
/// the gradient of the sample's loss at targets ŷ drawn from the model's predictive distribution (softmax +
/// cross-entropy: a class ~ Categorical(aᴸ); sigmoid + binary cross-entropy: each output ~ Bernoulli(aⱼᴸ); quadratic cost
/// with any output: ŷ = aᴸ + N(0, I), the Gaussian whose negative log-likelihood is the cost). Sampling makes E[G] the
/// true Fisher's factor, not the empirical Fisher's (which would use the data's targets). Both are exponential running
/// averages, ε_k = min(1 − 1/k, <see cref="KFacOptions.Decay"/>) at the k-th update, refreshed every
/// <see cref="KFacOptions.StatisticsEvery"/> steps.</para>
/// <para><b>Damping.</b> Factored Tikhonov (Martens &amp; Grosse §6.3): (A + πγ I) ⊗ (G + (γ/π) I) with γ = √λ and
/// π = √((tr A/(inputs + 1)) / (tr G/outputs)), so each factor is damped in proportion to its own scale (π = 1 when a
/// trace is 0, e.g. a layer whose units are all dead). The damped inverses are refreshed every
/// <see cref="KFacOptions.InverseEvery"/> steps by Cholesky (if rounding makes the damped factor indefinite, its damping
/// is raised tenfold and the factorisation retried).</para>
/// <para><b>Step.</b> ∇ is ∂C/∂θ of the batch mean cost with the data's targets. Δ = F̃⁻¹∇ layer by layer (two GEMMs);
/// ν = min(1, √(κ/(η²Δᵀ∇))) when <see cref="KFacOptions.KlClip"/> is κ (Ba, Grosse &amp; Martens 2017's KL clipping:
/// ½η²ν²ΔᵀF̃Δ, the step's KL divergence under F̃, stays at most κ/2); v ← μv + νΔ (v = νΔ when μ = 0, the
/// default); θ ← θ − ηv. A step whose cost is not finite returns it and changes nothing; a step whose Δᵀ∇ overflows
/// (float) updates the factors but leaves θ and v.</para>
/// <para><b>Cost.</b> A step is the gradient's forward and backward passes and 2 GEMMs per layer of
/// outputs × (inputs + 1)² + outputs² × (inputs + 1) multiply-adds; a statistics step adds one more backward pass and
/// ĀᵀĀ, δᵀδ; an inverse step adds two Cholesky factorisations and inversions per layer, O((inputs + 1)³).</para>
/// </remarks>
public sealed class KFac<T> : ICurvatureOptimizer<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly NetworkSpec _spec;
    private readonly KFacOptions _options;
    private readonly Workspace<T> _ws;
    private readonly int[] _layer, _inputs, _outputs;           // per dense layer: its index in the network, its widths
    private readonly int[] _a, _g, _aInverse, _gInverse;        // per dense layer: offsets of its four matrices in _factors
    private readonly MemoryOwner<T> _factors, _gradient, _direction, _velocity, _sampled, _square, _row, _panel, _panel2;
    private SeededRandom _random;
    private long _step, _statisticsUpdates;

    /// <summary>The most values the Kronecker factors, their inverses and the scratch of their size may take together:
    /// <see cref="ParameterLayout.MaxCount"/>, as for θ (1 GB in float). A dense layer n → m takes about 2(n + 1)² + 2m²,
    /// so two 15,000-wide layers (1.8 billion values, over 7 GB in float) are refused before anything is allocated.</summary>
    public const int MaxFactorValues = ParameterLayout.MaxCount;

    /// <summary>An offset into the factors while they are laid out, saturated at int.MaxValue: past the bound the layout is
    /// refused (the total is summed in long) before any offset is used, so saturating only keeps an overflow from
    /// throwing first.</summary>
    internal static int Offset(long offset) => (int)Math.Min(offset, int.MaxValue);

    /// <summary>K-FAC for <paramref name="spec"/> on batches of up to <paramref name="batch"/> rows.</summary>
    /// <param name="spec">The network: its layers with parameters must be <see cref="Dense"/> (not per step).</param>
    /// <param name="batch">The largest batch an update takes.</param>
    /// <param name="options">Hyper-parameters (<c>null</c>: the defaults of <see cref="KFacOptions"/>).</param>
    /// <param name="threads">Threads the GEMMs may use.</param>
    /// <exception cref="ArgumentException">A layer with parameters is not dense, or reads or gives sequences (the
    /// message names the layer).</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="batch"/> or <paramref name="threads"/> is less than 1, or
    /// the factors would take more than <see cref="MaxFactorValues"/> values (the message gives the count).</exception>
    public KFac(NetworkSpec spec, int batch, KFacOptions? options = null, int threads = 1)
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentOutOfRangeException.ThrowIfLessThan(batch, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(threads, 1);
        var dense = new List<int>();
        for (int l = 0; l < spec.Layers.Count; l++)
        {
            var layer = spec.Layers[l];
            if (layer.Input.IsSequence || layer.Output.IsSequence)
                throw new ArgumentException($"K-FAC takes networks of features [batch × n]: layer {l} ({layer.Kind}) reads {layer.Input} and gives {layer.Output}", nameof(spec));
            if (layer is Dense) dense.Add(l);
            else if (layer.ParameterTensors().Length > 0)
                throw new ArgumentException($"K-FAC has Kronecker factors for dense layers only: layer {l} ({layer.Kind}) has parameters; use another optimizer for {spec}", nameof(spec));
        }
        _spec = spec;
        _options = options ?? new KFacOptions();
        _random = new SeededRandom(_options.Seed);
        int n = dense.Count;
        _layer = [.. dense];
        _inputs = new int[n];
        _outputs = new int[n];
        _a = new int[n];
        _g = new int[n];
        _aInverse = new int[n];
        _gInverse = new int[n];
        long offset = 0, square = 0, panel = 0;
        int widest = 0;
        for (int i = 0; i < n; i++)
        {
            var d = (Dense)spec.Layers[_layer[i]];
            int inputs = d.Inputs, outputs = d.Outputs;
            long aSize = (long)(inputs + 1) * (inputs + 1), gSize = (long)outputs * outputs;
            _inputs[i] = inputs;
            _outputs[i] = outputs;
            _a[i] = Offset(offset);
            _aInverse[i] = Offset(offset += aSize);
            _g[i] = Offset(offset += aSize);
            _gInverse[i] = Offset(offset += gSize);
            offset += gSize;
            square = Math.Max(square, Math.Max(aSize, gSize));
            panel = Math.Max(panel, (long)outputs * (inputs + 1));
            widest = Math.Max(widest, Math.Max(inputs + 1, outputs));
        }
        long total = offset + square + 2 * panel;   // the factors and their inverses, then the scratch of the same order
        if (total > MaxFactorValues)
            throw new ArgumentOutOfRangeException(nameof(spec), string.Create(System.Globalization.CultureInfo.InvariantCulture,
                $"K-FAC of {spec} needs {total:N0} values for its Kronecker factors, their inverses and their scratch (a layer of width n needs about 2n² for each factor), more than {MaxFactorValues:N0} (ParameterLayout.MaxCount); use narrower layers, or a diagonal or Hessian-free optimizer"));
        int count = spec.Layout.Count;
        _ws = new Workspace<T>(spec.Layers, batch) { Threads = threads };
        _factors = MemoryOwner<T>.Allocate((int)offset, AllocationMode.Clear);
        _gradient = MemoryOwner<T>.Allocate(count, AllocationMode.Clear);
        _direction = MemoryOwner<T>.Allocate(count, AllocationMode.Clear);
        _velocity = MemoryOwner<T>.Allocate(_options.Momentum > 0 ? count : 0, AllocationMode.Clear);
        _sampled = MemoryOwner<T>.Allocate(batch * spec.Outputs, AllocationMode.Clear);
        _square = MemoryOwner<T>.Allocate((int)square, AllocationMode.Clear);
        _row = MemoryOwner<T>.Allocate(widest, AllocationMode.Clear);
        _panel = MemoryOwner<T>.Allocate((int)panel, AllocationMode.Clear);
        _panel2 = MemoryOwner<T>.Allocate((int)panel, AllocationMode.Clear);
    }

    /// <summary><c>kfac</c>.</summary>
    public string Name => "kfac";

    /// <summary>The hyper-parameters.</summary>
    public KFacOptions Options => _options;

    /// <summary>Updates done (steps whose cost was finite).</summary>
    public long Step => _step;

    /// <summary>One K-FAC step on the batch: ∇C with the data's targets; on a statistics step the factors from targets
    /// drawn from the model; on an inverse step the damped inverses; then θ ← θ − ηv. Allocates nothing.</summary>
    /// <inheritdoc/>
    /// <exception cref="ArgumentException">A shape does not match, or x or y holds NaN or infinity.</exception>
    public T Update(Span<T> theta, ReadOnlySpan<T> x, ReadOnlySpan<T> y)
    {
        var spec = _spec;
        int rows = _ws.RowsOf(x.Length);
        Equations.Forward(spec, theta, x, _ws);
        var gradient = _gradient.Span;
        T cost = Equations.Backward(spec, theta, x, y, _ws, gradient);
        if (!T.IsFinite(cost)) return cost;
        if (_step % _options.StatisticsEvery == 0) UpdateStatistics(theta, x, rows);
        if (_step % _options.InverseEvery == 0) RefreshInverses();
        var direction = _direction.Span;
        double dot = Precondition(gradient, direction);
        _step++;
        if (!double.IsFinite(dot)) return cost;   // an overflowing direction (float): θ and v stay as they were
        double eta = _options.LearningRate, nu = 1;
        if (_options.KlClip is { } kappa && dot > 0) nu = Math.Min(1, Math.Sqrt(kappa / (eta * eta * dot)));
        if (_options.Momentum > 0)
        {
            var v = _velocity.Span;
            TensorPrimitives.Multiply(v, T.CreateChecked(_options.Momentum), v);
            TensorPrimitives.MultiplyAdd(direction, T.CreateChecked(nu), v, v);
            TensorPrimitives.MultiplyAdd(v, T.CreateChecked(-eta), theta, theta);
        }
        else
        {
            TensorPrimitives.MultiplyAdd(direction, T.CreateChecked(-eta * nu), theta, theta);
        }
        return cost;
    }

    /// <summary>Targets ŷ drawn for the last rows, then δ at them, then A and G of every dense layer merged in.</summary>
    private void UpdateStatistics(ReadOnlySpan<T> theta, ReadOnlySpan<T> x, int rows)
    {
        int last = _spec.Layers.Count - 1, outputs = _spec.Outputs;
        var sampled = _sampled.Span[..(rows * outputs)];
        SampleTargets(_spec.Loss, _ws.A(last, rows), outputs, ref _random, sampled);
        T sampledCost = Equations.Deltas(_spec, theta, x, sampled, _ws);
        if (!T.IsFinite(sampledCost)) return;
        _statisticsUpdates++;
        T keep = T.CreateChecked(Math.Min(1 - 1.0 / _statisticsUpdates, _options.Decay));
        var factors = _factors.Span;
        for (int i = 0; i < _layer.Length; i++)
        {
            int l = _layer[i], inputs = _inputs[i], outputs_ = _outputs[i];
            ReadOnlySpan<T> a = l == 0 ? x[..(rows * inputs)] : _ws.A(l - 1, rows);
            InputFactor(a, rows, inputs, factors.Slice(_a[i], (inputs + 1) * (inputs + 1)), _square.Span, keep, _ws.Threads);
            OutputFactor(_ws.Delta(l, rows), rows, outputs_, factors.Slice(_g[i], outputs_ * outputs_), _square.Span, keep, _ws.Threads);
        }
    }

    /// <summary>(A + πγ I)⁻¹ and (G + (γ/π) I)⁻¹ of every dense layer from the current factors.</summary>
    private void RefreshInverses()
    {
        var factors = _factors.Span;
        double gamma = Math.Sqrt(_options.Damping);
        for (int i = 0; i < _layer.Length; i++)
        {
            int na = _inputs[i] + 1, ng = _outputs[i];
            var a = factors.Slice(_a[i], na * na);
            var g = factors.Slice(_g[i], ng * ng);
            double pi = Pi(a, na, g, ng);
            DampedInverse(a, na, pi * gamma, factors.Slice(_aInverse[i], na * na), _square.Span, _row.Span, _ws.Threads);
            DampedInverse(g, ng, gamma / pi, factors.Slice(_gInverse[i], ng * ng), _square.Span, _row.Span, _ws.Threads);
        }
    }

    /// <summary>Δ = F̃⁻¹∇ layer by layer into <paramref name="direction"/>; returns Σ ⟨Δ, ∇⟩ = ∇ᵀF̃⁻¹∇.</summary>
    private double Precondition(ReadOnlySpan<T> gradient, Span<T> direction)
    {
        var factors = _factors.Span;
        var layout = _spec.Layout;
        double dot = 0;
        for (int i = 0; i < _layer.Length; i++)
        {
            int l = _layer[i], inputs = _inputs[i], outputs = _outputs[i], na = inputs + 1;
            int w = layout.Weight(l).Offset, b = layout.Bias(l).Offset;
            var p = _panel.Span[..(outputs * na)];
            var q = _panel2.Span[..(outputs * na)];
            ToPanel(gradient, w, b, inputs, outputs, p);
            Gemm.Multiply<T>(p, false, factors.Slice(_aInverse[i], na * na), false, q, outputs, na, na, accumulate: false, _ws.Threads);
            Gemm.Multiply<T>(factors.Slice(_gInverse[i], outputs * outputs), false, q, false, p, outputs, na, outputs, accumulate: false, _ws.Threads);
            FromPanel(p, w, b, inputs, outputs, direction);
            dot += double.CreateChecked(TensorPrimitives.Dot(direction.Slice(w, outputs * inputs), gradient.Slice(w, outputs * inputs)));
            dot += double.CreateChecked(TensorPrimitives.Dot(direction.Slice(b, outputs), gradient.Slice(b, outputs)));
        }
        return dot;
    }

    /// <summary>Dense layer i's running A [(inputs + 1)²] (for tests).</summary>
    internal ReadOnlySpan<T> InputFactorOf(int i) => _factors.Span.Slice(_a[i], (_inputs[i] + 1) * (_inputs[i] + 1));

    /// <summary>Dense layer i's running G [outputs²] (for tests).</summary>
    internal ReadOnlySpan<T> OutputFactorOf(int i) => _factors.Span.Slice(_g[i], _outputs[i] * _outputs[i]);

    /// <summary>The targets drawn at the last statistics step, [rows × outputs] (for tests).</summary>
    internal ReadOnlySpan<T> SampledTargets(int rows) => _sampled.Span[..(rows * _spec.Outputs)];

    /// <summary>One dense layer's [W | b] panel [outputs × (inputs + 1)] from θ's flat layout (W row-major at
    /// <paramref name="w"/>, b at <paramref name="b"/>): the order the Kronecker factors act in.</summary>
    internal static void ToPanel(ReadOnlySpan<T> flat, int w, int b, int inputs, int outputs, Span<T> panel)
    {
        int na = inputs + 1;
        for (int j = 0; j < outputs; j++)
        {
            flat.Slice(w + j * inputs, inputs).CopyTo(panel.Slice(j * na, inputs));
            panel[j * na + inputs] = flat[b + j];
        }
    }

    /// <summary>The inverse of <see cref="ToPanel"/>: the panel written back into the flat layout.</summary>
    internal static void FromPanel(ReadOnlySpan<T> panel, int w, int b, int inputs, int outputs, Span<T> flat)
    {
        int na = inputs + 1;
        for (int j = 0; j < outputs; j++)
        {
            panel.Slice(j * na, inputs).CopyTo(flat.Slice(w + j * inputs, inputs));
            flat[b + j] = panel[j * na + inputs];
        }
    }

    /// <summary>π = √((tr A/na) / (tr G/ng)), or 1 when either trace is not positive and finite.</summary>
    internal static double Pi(ReadOnlySpan<T> a, int na, ReadOnlySpan<T> g, int ng)
    {
        double ta = 0, tg = 0;
        for (int k = 0; k < na; k++) ta += double.CreateChecked(a[k * na + k]);
        for (int k = 0; k < ng; k++) tg += double.CreateChecked(g[k * ng + k]);
        double pi = Math.Sqrt(ta / na / (tg / ng));
        return ta > 0 && tg > 0 && double.IsFinite(pi) && pi > 0 ? pi : 1;
    }

    /// <summary>destination ← keep·destination + (1 − keep)·(1/m) ĀᵀĀ with Ā = [a | 1], [(inputs + 1)²], bias last.</summary>
    /// <param name="a">aˡ⁻¹, [rows × inputs].</param>
    /// <param name="rows">m.</param>
    /// <param name="inputs">Width of aˡ⁻¹.</param>
    /// <param name="destination">The running A, [(inputs + 1) × (inputs + 1)].</param>
    /// <param name="scratch">At least inputs² values.</param>
    /// <param name="keep">ε_k (0: the batch's factor alone).</param>
    /// <param name="threads">Threads for the GEMM.</param>
    internal static void InputFactor(ReadOnlySpan<T> a, int rows, int inputs, Span<T> destination, Span<T> scratch, T keep, int threads)
    {
        int na = inputs + 1;
        var s = scratch[..(inputs * inputs)];
        Gemm.Multiply(a, true, a, false, s, inputs, inputs, rows, accumulate: false, threads);
        T w = (T.One - keep) / T.CreateChecked(rows);
        for (int i = 0; i < inputs; i++)
        {
            var d = destination.Slice(i * na, inputs);
            TensorPrimitives.Multiply(d, keep, d);
            TensorPrimitives.MultiplyAdd(s.Slice(i * inputs, inputs), w, d, d);
        }
        var sums = scratch[..inputs];   // E[a], the bias column and row
        sums.Clear();
        for (int r = 0; r < rows; r++) TensorPrimitives.Add(sums, a.Slice(r * inputs, inputs), sums);
        for (int j = 0; j < inputs; j++)
        {
            T v = keep * destination[j * na + inputs] + w * sums[j];
            destination[j * na + inputs] = v;
            destination[inputs * na + j] = v;
        }
        destination[inputs * na + inputs] = keep * destination[inputs * na + inputs] + (T.One - keep);
    }

    /// <summary>destination ← keep·destination + (1 − keep)·(1/m) Σ g gᵀ, where g = m·δ is each sample's ∂ℓ/∂z (δ is
    /// ∂C/∂z of the mean cost), so (1/m) Σ g gᵀ = m δᵀδ.</summary>
    /// <param name="delta">δˡ, [rows × outputs].</param>
    /// <param name="rows">m.</param>
    /// <param name="outputs">Width of zˡ.</param>
    /// <param name="destination">The running G, [outputs × outputs].</param>
    /// <param name="scratch">At least outputs² values.</param>
    /// <param name="keep">ε_k (0: the batch's factor alone).</param>
    /// <param name="threads">Threads for the GEMM.</param>
    internal static void OutputFactor(ReadOnlySpan<T> delta, int rows, int outputs, Span<T> destination, Span<T> scratch, T keep, int threads)
    {
        var s = scratch[..(outputs * outputs)];
        Gemm.Multiply(delta, true, delta, false, s, outputs, outputs, rows, accumulate: false, threads);
        TensorPrimitives.Multiply(destination, keep, destination);
        TensorPrimitives.MultiplyAdd(s, (T.One - keep) * T.CreateChecked(rows), destination, destination);
    }

    /// <summary>Targets drawn from the model's predictive distribution at its outputs <paramref name="a"/>: one class
    /// per row ~ Categorical(a) for softmax + cross-entropy, each output ~ Bernoulli(aⱼ) for binary cross-entropy,
    /// a + N(0, I) for the quadratic cost.</summary>
    internal static void SampleTargets(LossKind loss, ReadOnlySpan<T> a, int width, ref SeededRandom random, Span<T> destination)
    {
        int rows = a.Length / width;
        switch (loss)
        {
            case LossKind.SoftmaxCrossEntropy:
                destination.Clear();
                for (int r = 0; r < rows; r++)
                {
                    var p = a.Slice(r * width, width);
                    double u = random.NextDouble(), cumulative = 0;
                    int c = width - 1;   // rounding may leave Σp just under u: the last class
                    for (int j = 0; j < width; j++)
                    {
                        cumulative += double.CreateChecked(p[j]);
                        if (u < cumulative) { c = j; break; }
                    }
                    destination[r * width + c] = T.One;
                }
                break;
            case LossKind.CrossEntropy:
                for (int k = 0; k < rows * width; k++)
                    destination[k] = random.NextDouble() < double.CreateChecked(a[k]) ? T.One : T.Zero;
                break;
            case LossKind.Quadratic:
                for (int k = 0; k < rows * width; k++)
                    destination[k] = a[k] + T.CreateChecked(random.NextGaussian());
                break;
            default:
                Shapes.ThrowUnknown(loss);
                break;
        }
    }

    /// <summary>(F + dI)⁻¹ into <paramref name="destination"/>: F + dI = LLᵀ by Cholesky, L⁻¹ in place, then
    /// L⁻ᵀL⁻¹ by one GEMM. When rounding leaves F + dI indefinite, d grows tenfold (up to 30 times); if it never
    /// factorises (F holds NaN) the previous inverse stays.</summary>
    internal static bool DampedInverse(ReadOnlySpan<T> f, int n, double d, Span<T> destination, Span<T> square, Span<T> row, int threads)
    {
        var m = square[..(n * n)];
        for (int attempt = 0; attempt < 30; attempt++, d *= 10)
        {
            f.CopyTo(m);
            T damping = T.CreateChecked(d);
            for (int k = 0; k < n; k++) m[k * n + k] += damping;
            if (!Cholesky(m, n)) continue;
            LowerInverse(m, n, row);
            Gemm.Multiply<T>(m, true, m, false, destination, n, n, n, accumulate: false, threads);
            return true;
        }
        return false;
    }

    /// <summary>M = LLᵀ in place: L in the lower triangle (row-oriented, each entry one dot product of row prefixes);
    /// the strict upper triangle is left as it was. False when a pivot is not positive.</summary>
    internal static bool Cholesky(Span<T> m, int n)
    {
        for (int i = 0; i < n; i++)
        {
            var ri = m.Slice(i * n, n);
            for (int j = 0; j < i; j++)
            {
                var rj = m.Slice(j * n, j + 1);
                ri[j] = (ri[j] - TensorPrimitives.Dot(ri[..j], rj[..j])) / rj[j];
            }
            T s = ri[i] - TensorPrimitives.Dot(ri[..i], ri[..i]);
            if (!(s > T.Zero) || !T.IsFinite(s)) return false;
            ri[i] = T.Sqrt(s);
        }
        return true;
    }

    /// <summary>L⁻¹ in place of a lower-triangular L (row i of L⁻¹ = (eᵢ − Σ_{k&lt;i} Lᵢₖ (L⁻¹)ₖ)/Lᵢᵢ, rows of L⁻¹
    /// combined as vectors); the strict upper triangle is set to 0.</summary>
    internal static void LowerInverse(Span<T> m, int n, Span<T> row)
    {
        for (int i = 0; i < n; i++)
        {
            var ri = m.Slice(i * n, n);
            var t = row[..i];
            t.Clear();
            for (int k = 0; k < i; k++)
            {
                var tk = t[..(k + 1)];
                TensorPrimitives.MultiplyAdd(m.Slice(k * n, k + 1), -ri[k], tk, tk);
            }
            T inverse = T.One / ri[i];
            TensorPrimitives.Multiply(t, inverse, ri[..i]);
            ri[i] = inverse;
            ri[(i + 1)..].Clear();
        }
    }

    /// <summary>Returns the buffers to the pool.</summary>
    public void Dispose()
    {
        _ws.Dispose();
        _factors.Dispose();
        _gradient.Dispose();
        _direction.Dispose();
        _velocity.Dispose();
        _sampled.Dispose();
        _square.Dispose();
        _row.Dispose();
        _panel.Dispose();
        _panel2.Dispose();
    }
}
