using System.Numerics;
using System.Numerics.Tensors;
using Backprop.Functional.Kernels;
using CommunityToolkit.HighPerformance.Buffers;

namespace Backprop.Functional;

/// <summary>Becker &amp; LeCun's (1989) diagonal of the Hessian of the batch's mean cost C, backpropagated through dense
/// layers with the off-diagonal terms dropped. Per sample, with hᵢ ≈ ∂²ℓ/∂zᵢ² and every quantity carrying the 1/m of the
/// mean:
/// <list type="bullet">
/// <item>output: the diagonal of the cost's Hessian in zᴸ for the matching pairs (identity + quadratic: 1; sigmoid +
/// binary cross-entropy: a(1 − a); softmax + cross-entropy: Σy·a(1 − a)), otherwise σ′² ∂²ℓ/∂a² + σ″ ∂ℓ/∂a (softmax:
/// Σₖ (∂aₖ/∂zⱼ)² ∂²ℓ/∂aₖ² + Σₖ ∂ℓ/∂aₖ ∂²aₖ/∂zⱼ²);</item>
/// <item>through Wˡ: ∂²C/∂aᵢˡ⁻¹² ≈ Σⱼ (Wⱼᵢˡ)² hⱼˡ, the exact Σⱼ Σₖ Wⱼᵢ Wₖᵢ ∂²C/∂zⱼ∂zₖ with j ≠ k dropped;</item>
/// <item>through σ: hᵢ = σ′(zᵢ)² ∂²C/∂aᵢ² + σ″(zᵢ) ∂C/∂aᵢ (<see cref="BeckerLeCunVariant.SecondOrder"/>), or without
/// the σ″ term (<see cref="BeckerLeCunVariant.GaussNewton"/>);</item>
/// <item>parameters, exactly given h (Wⱼᵢ reaches ℓ only through zⱼ, linearly): ∂²C/∂Wⱼᵢ² = Σₓ hⱼ aᵢ²,
/// ∂²C/∂bⱼ² = Σₓ hⱼ.</item>
/// </list>
/// Each sample is propagated on its own (the squares do not commute with the batch sum), the batch as the rows of the
/// GEMMs: hᵀ(a ⊙ a) for the weights, and (Wᵀδ, h(W ⊙ W)) for the layer below, three per layer where the backward pass
/// has two (layer 0: one each), about one backward pass in all.
/// <para>Where it is exact (tests: HessianDiagonalTests): the weight and bias entries of the <b>last</b> layer are exact in
/// both variants (SecondOrder: diag ∇²C; GaussNewton: diag G, with G split as <see cref="Curvature.GaussNewtonVector{T}"/>
/// splits it), so a one-layer network's whole diagonal is. One layer further down they stay exact when the output is one
/// unit wide (the Hessian in zᴸ is then 1 × 1, nothing is dropped), and a network whose layers are all one unit wide (after
/// the input) is exact throughout. Elsewhere in a deeper network neither variant is exact: both drop the coupling between
/// units of a layer. With only σ″ = 0 hidden activations (identity, ReLU away from 0) and a matching output pair the two
/// variants coincide, and so do diag ∇²C and diag G (each parameter enters zᴸ piecewise linearly).</para>
/// <para>Threads: one call at a time (the scratch and the curvature workspace are written).</para></summary>
/// <typeparam name="T">The element type.</typeparam>
public sealed class HessianDiagonal<T> : IDisposable where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly MemoryOwner<T> _squares;

    /// <summary>Scratch for the diagonal of <paramref name="spec"/> on batches of up to <paramref name="batch"/> rows: one
    /// buffer for aˡ⁻¹ ⊙ aˡ⁻¹ or Wˡ ⊙ Wˡ, whichever of any layer is larger.</summary>
    /// <exception cref="NotSupportedException">A layer is not a plain (not per-step) <see cref="Dense"/> layer.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="batch"/> is less than 1, or the scratch would exceed
    /// an array.</exception>
    public HessianDiagonal(NetworkSpec spec, int batch)
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentOutOfRangeException.ThrowIfLessThan(batch, 1);
        long length = 1;
        for (int l = 0; l < spec.Layers.Count; l++)
        {
            if (spec.Layers[l] is not Dense { PerStep: false } d)
                throw new NotSupportedException($"the Becker–LeCun diagonal passes through dense layers only; layer {l} is {spec.Layers[l].Kind} (use Hutchinson<T>, which needs only Hessian-vector products)");
            length = Math.Max(length, Math.Max((long)batch * d.Inputs, (long)d.Outputs * d.Inputs));
        }
        if (length > Array.MaxLength)
            throw new ArgumentOutOfRangeException(nameof(batch), batch, $"the diagonal's scratch ({length} elements) would exceed an array");
        Spec = spec;
        Batch = batch;
        _squares = MemoryOwner<T>.Allocate((int)length, AllocationMode.Clear);
    }

    /// <summary>The network.</summary>
    public NetworkSpec Spec { get; }

    /// <summary>The largest batch.</summary>
    public int Batch { get; }

    /// <summary>After <see cref="Curvature.Forward{T}"/> on (θ, x): the Becker–LeCun diagonal of ∇²C(θ) into
    /// <paramref name="diagonal"/> (see <see cref="HessianDiagonal{T}"/>). Overwrites the workspace's δ and tangent buffers
    /// (the forward pass stays). Allocates nothing.</summary>
    /// <param name="theta">θ, as passed to <see cref="Curvature.Forward{T}"/>.</param>
    /// <param name="x">Inputs, [rows × inputs], as passed to <see cref="Curvature.Forward{T}"/>.</param>
    /// <param name="y">Targets, [rows × outputs].</param>
    /// <param name="ws">The curvature workspace holding the forward pass.</param>
    /// <param name="diagonal">The estimate of ∂²C/∂θᵢ², written, [θ].</param>
    /// <param name="variant">Whether σ″·∂C/∂a is kept.</param>
    /// <returns>The batch's mean cost C.</returns>
    /// <exception cref="ArgumentException">A shape does not match, the workspace is for another network, x is not the batch
    /// <see cref="Curvature.Forward{T}"/> last ran on, or y holds NaN or infinity.</exception>
    public T BeckerLeCun(ReadOnlySpan<T> theta, ReadOnlySpan<T> x, ReadOnlySpan<T> y, CurvatureWorkspace<T> ws,
        Span<T> diagonal, BeckerLeCunVariant variant = BeckerLeCunVariant.SecondOrder)
    {
        int rows = Check(theta, x, ws, diagonal, variant);
        var spec = Spec;
        int last = spec.Layers.Count - 1;
        T cost = OutputSeed(y, ws, rows, variant);
        var layout = spec.Layout;
        int threads = ws.Primal.Threads;
        for (int l = last; l >= 0; l--)
        {
            var d = (Dense)spec.Layers[l];
            int inputs = d.Inputs, outputs = d.Outputs, weights = inputs * outputs, offset = layout.LayerOffset(l);
            Span<T> h = ws.Tangent.Delta(l, rows);
            ReadOnlySpan<T> input = l == 0 ? x : ws.Primal.A(l - 1, rows);
            var squares = _squares.Span[..(rows * inputs)];
            TensorPrimitives.Multiply(input, input, squares);
            Gemm.Multiply<T>(h, true, squares, false, diagonal.Slice(offset, weights), outputs, inputs, rows, accumulate: false, threads);
            Equations.BiasGradient<T>(h, diagonal.Slice(offset + weights, outputs));
            if (l == 0) break;
            var below = (Dense)spec.Layers[l - 1];
            var w = theta.Slice(offset, weights);
            Span<T> u = ws.Primal.Delta(l - 1, rows), hBelow = ws.Tangent.Delta(l - 1, rows);
            Equations.InputGradient(w, ws.Primal.Delta(l, rows), u, inputs, outputs, threads);   // ∂C/∂aˡ⁻¹ = (Wˡ)ᵀδˡ
            var wSquared = _squares.Span[..weights];
            TensorPrimitives.Multiply(w, w, wSquared);
            Equations.InputGradient<T>(wSquared, h, hBelow, inputs, outputs, threads);           // Σⱼ (Wⱼᵢ)² hⱼ
            Through(below.Activation, ws.Primal.Z(l - 1, rows), ws.Primal.A(l - 1, rows), u, hBelow, hBelow, inputs, variant);
        }
        return cost;
    }

    /// <summary>δᴸ (scaled 1/m, as the backward pass leaves it) into the forward workspace's δ and hᴸ = ∂²C/∂zᴸ² (scaled
    /// 1/m) into the tangent's; returns the mean cost.</summary>
    private T OutputSeed(ReadOnlySpan<T> y, CurvatureWorkspace<T> ws, int rows, BeckerLeCunVariant variant)
    {
        var spec = Spec;
        int last = spec.Layers.Count - 1, width = spec.Outputs;
        T cost = Equations.OutputDelta(spec, y, ws.Primal, rows);   // checks y; δᴸ/m
        var a = ws.Primal.A(last, rows);
        var h = ws.Tangent.Delta(last, rows);
        T inverse = T.One / T.CreateChecked(rows);
        if (Curvature.SplitsAtLogits(spec.Loss, spec.OutputActivation))
        {
            switch (spec.OutputActivation)
            {
                case ActivationKind.Identity:   // ½‖z − y‖²: I
                    h.Fill(inverse);
                    break;
                case ActivationKind.Sigmoid:    // Σ softplus forms: diag a(1 − a)
                    for (int i = 0; i < h.Length; i++) h[i] = a[i] * (T.One - a[i]) * inverse;
                    break;
                default:                        // softmax + cross-entropy: Σy·(diag a − a aᵀ)
                    for (int r = 0; r < h.Length; r += width)
                    {
                        T scale = TensorPrimitives.Sum(y.Slice(r, width)) * inverse;
                        for (int j = r; j < r + width; j++) h[j] = scale * a[j] * (T.One - a[j]);
                    }
                    break;
            }
            return cost;
        }
        Span<T> u = ws.Tangent.A(last, rows), second = ws.Tangent.Z(last, rows)[..(rows * width)];
        var derivatives = new LossDerivatives { A = a, Y = y, Gradient = u, Second = second };
        LossDispatch.Run(spec.Loss, ref derivatives);
        TensorPrimitives.Multiply(u, inverse, u);
        TensorPrimitives.Multiply(second, inverse, second);
        Through(spec.OutputActivation, ws.Primal.Z(last, rows), a, u, second, h, width, variant);
        return cost;
    }

    /// <summary>Through an activation, per sample: h ← diag of J_σᵀ (diag ∂²C/∂a²) J_σ plus, for SecondOrder, Σₖ ∂C/∂aₖ ∇²_z aₖ's
    /// diagonal; u ← J_σᵀu (∂C/∂a becomes δ). <paramref name="h"/> may be <paramref name="hu"/>.</summary>
    private static void Through(ActivationKind kind, ReadOnlySpan<T> z, ReadOnlySpan<T> a, Span<T> u, ReadOnlySpan<T> hu, Span<T> h,
        int width, BeckerLeCunVariant variant)
    {
        bool second = variant == BeckerLeCunVariant.SecondOrder;
        switch (kind)
        {
            case ActivationKind.Identity: hu.CopyTo(h); break;
            case ActivationKind.Sigmoid: Elementwise<Sigmoid>(z, a, u, hu, h, second); break;
            case ActivationKind.Tanh: Elementwise<Tanh>(z, a, u, hu, h, second); break;
            case ActivationKind.ReLU: Elementwise<ReLU>(z, a, u, hu, h, second); break;
            case ActivationKind.LeakyReLU: Elementwise<LeakyReLU>(z, a, u, hu, h, second); break;
            case ActivationKind.Softplus: Elementwise<Softplus>(z, a, u, hu, h, second); break;
            case ActivationKind.GELU: Elementwise<GELU>(z, a, u, hu, h, second); break;
            case ActivationKind.Softmax: SoftmaxRows(a, u, hu, h, width, second); break;
            default: Shapes.ThrowUnknown(kind); break;
        }
    }

    /// <summary>hᵢ = σ′(zᵢ)² huᵢ + σ″(zᵢ) uᵢ (the σ″ term only when <paramref name="second"/>); uᵢ ← σ′(zᵢ) uᵢ.</summary>
    private static void Elementwise<TAct>(ReadOnlySpan<T> z, ReadOnlySpan<T> a, Span<T> u, ReadOnlySpan<T> hu, Span<T> h, bool second)
        where TAct : struct, IElementwiseActivation
    {
        for (int i = 0; i < u.Length; i++)
        {
            T d1 = TAct.Derivative(z[i], a[i]);
            T hi = d1 * d1 * hu[i];
            if (second) hi += TAct.SecondDerivative(z[i], a[i]) * u[i];
            h[i] = hi;
            u[i] = d1 * u[i];
        }
    }

    /// <summary>Softmax per row, with ∂aₖ/∂zⱼ = aₖ(δₖⱼ − aⱼ) and ∂²aₖ/∂zⱼ² = aₖ((δₖⱼ − aⱼ)² − aⱼ(1 − aⱼ)):
    /// hⱼ = Σₖ (∂aₖ/∂zⱼ)² huₖ = aⱼ²(Σₖ aₖ² huₖ + (1 − 2aⱼ) huⱼ) plus Σₖ uₖ ∂²aₖ/∂zⱼ² = aⱼ(1 − 2aⱼ)(uⱼ − a·u);
    /// uⱼ ← aⱼ(uⱼ − a·u).</summary>
    private static void SoftmaxRows(ReadOnlySpan<T> a, Span<T> u, ReadOnlySpan<T> hu, Span<T> h, int width, bool second)
    {
        T two = T.CreateChecked(2);
        for (int r = 0; r < u.Length; r += width)
        {
            T au = T.Zero, a2h = T.Zero;
            for (int k = r; k < r + width; k++)
            {
                au += a[k] * u[k];
                a2h += a[k] * a[k] * hu[k];
            }
            for (int j = r; j < r + width; j++)
            {
                T aj = a[j], centred = u[j] - au;
                T hj = aj * aj * (a2h + (T.One - two * aj) * hu[j]);
                if (second) hj += aj * (T.One - two * aj) * centred;
                h[j] = hj;
                u[j] = aj * centred;
            }
        }
    }

    private int Check(ReadOnlySpan<T> theta, ReadOnlySpan<T> x, CurvatureWorkspace<T> ws, ReadOnlySpan<T> diagonal,
        BeckerLeCunVariant variant)
    {
        ArgumentNullException.ThrowIfNull(ws);
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (!ReferenceEquals(ws.Spec, Spec) && ws.Spec != Spec)
            throw new ArgumentException($"the curvature workspace was made for {ws.Spec}, not {Spec}", nameof(ws));
        if (variant is not (BeckerLeCunVariant.SecondOrder or BeckerLeCunVariant.GaussNewton)) Shapes.ThrowUnknown(variant);
        int rows = Equations.Check(Spec, theta, x, ws.Primal);
        if (diagonal.Length != theta.Length) Shapes.ThrowLengths("diagonal", diagonal.Length, "theta", theta.Length);
        if (rows > Batch)
            throw new ArgumentException($"x has {rows} rows but the diagonal's scratch was made for {Batch}", nameof(x));
        if (rows != ws.Rows)
            throw new ArgumentException($"x has {rows} rows but Curvature.Forward last ran on {ws.Rows}; run Curvature.Forward on this θ and x first", nameof(x));
        return rows;
    }

    private bool _disposed;

    /// <summary>Returns the scratch to the pool.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _squares.Dispose();
    }

    /// <summary>∂ℓ/∂a into Gradient and ∂²ℓ/∂a² into Second.</summary>
    private ref struct LossDerivatives : ILossAction
    {
        public ReadOnlySpan<T> A, Y;
        public Span<T> Gradient, Second;

        public readonly void Invoke<TLoss>() where TLoss : struct, ILoss
        {
            TLoss.Gradient(A, Y, Gradient);
            TLoss.SecondDerivative(A, Y, Second);
        }
    }
}
