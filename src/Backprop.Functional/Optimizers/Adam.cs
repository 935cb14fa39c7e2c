using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Backprop.Functional;

/// <summary>
/// Adam: m ← β₁m + (1−β₁)g; v ← β₂v + (1−β₂)g²; m̂ = m/(1−β₁ᵗ); v̂ = v/(1−β₂ᵗ); θ ← θ − η m̂/(√v̂ + ε),
/// with g ← g + λθ (L2) and t = Step + 1; AMSGrad uses v̂ = max(v₁…v_t)/(1−β₂ᵗ).
/// <para>Threads: immutable and shareable; the state an update writes (θ, the caller's <see
/// cref="OptimizerBuffers{T}"/>) takes one update at a time.</para>
/// </summary>
/// <param name="LearningRate">The learning rate η.</param>
/// <param name="Beta1">Decay β₁ of the first moment.</param>
/// <param name="Beta2">Decay β₂ of the second moment.</param>
/// <param name="Epsilon">ε, added outside the root after bias correction.</param>
/// <param name="Amsgrad">Use the running maximum of v (Reddi et al. 2018) in the denominator.</param>
/// <param name="WeightDecay">L2 penalty λ added to the gradient (use <see cref="AdamW"/> for decoupled decay).</param>
/// <remarks>
/// Exactly <c>torch.optim.Adam(lr, betas=(β₁, β₂), eps, weight_decay, amsgrad)</c>, which is Algorithm 1 of
/// Kingma &amp; Ba (2015) with ε added after bias correction (the paper's ε̂ variant differs slightly). torch's AMSGrad
/// takes the maximum of the uncorrected v and bias-corrects it afterwards, as here. Moments: 0 is m, 1 is v,
/// 2 is max v when <see cref="Amsgrad"/>.
/// </remarks>
public sealed record Adam(
    double LearningRate = 1e-3,
    double Beta1 = 0.9,
    double Beta2 = 0.999,
    double Epsilon = 1e-8,
    bool Amsgrad = false,
    double WeightDecay = 0) : Optimizer(LearningRate, WeightDecay)
{
    /// <summary>β₁, in [0, 1).</summary>
    public double Beta1 { get; init => field = HyperParameter.Below1(value, nameof(Beta1)); } = HyperParameter.Below1(Beta1, nameof(Beta1));

    /// <summary>β₂, in [0, 1).</summary>
    public double Beta2 { get; init => field = HyperParameter.Below1(value, nameof(Beta2)); } = HyperParameter.Below1(Beta2, nameof(Beta2));

    /// <summary>ε, a finite number ≥ 0.</summary>
    public double Epsilon { get; init => field = HyperParameter.NonNegative(value, nameof(Epsilon)); } = HyperParameter.NonNegative(Epsilon, nameof(Epsilon));

    /// <inheritdoc/>
    public override int MomentCount => Amsgrad ? 3 : 2;

    /// <summary>Element-wise, fused for one-sample steps, writes θ.</summary>
    public override TransformCapabilities Capabilities =>
        TransformCapabilities.ElementWise | TransformCapabilities.FusedOuterProduct | TransformCapabilities.WritesParameters;

    /// <inheritdoc/>
    protected internal override void PrepareFused(long t, double learningRate, ref FusedScalars<float> scalars) =>
        new AdamKernel.Constants<float>(t, Beta1, Beta2, Epsilon, Amsgrad, WeightDecay, learningRate).Store(ref scalars, 1f);

    /// <inheritdoc/>
    protected internal override void PrepareFused(long t, double learningRate, ref FusedScalars<double> scalars) =>
        new AdamKernel.Constants<double>(t, Beta1, Beta2, Epsilon, Amsgrad, WeightDecay, learningRate).Store(ref scalars, 1d);

    /// <inheritdoc/>
    protected internal override void UpdateFused(scoped in FusedScalars<float> scalars, scoped in FusedLayer<float> layer) =>
        AdamKernel.Fused(scalars, layer);

    /// <inheritdoc/>
    protected internal override void UpdateFused(scoped in FusedScalars<double> scalars, scoped in FusedLayer<double> layer) =>
        AdamKernel.Fused(scalars, layer);

    /// <inheritdoc/>
    public override OptimizerState Update<T>(
        OptimizerState state, Span<T> theta, ReadOnlySpan<T> g, OptimizerBuffers<T> buffers, double learningRate) =>
        Update(this, state, theta, g, buffers, learningRate);

    /// <summary>One Adam step; see <see cref="Adam"/>.</summary>
    /// <typeparam name="T">The element type.</typeparam>
    /// <param name="h">Hyper-parameters.</param>
    /// <param name="s">State before the update.</param>
    /// <param name="theta">Parameters θ, updated in place.</param>
    /// <param name="g">Gradient, same length as θ.</param>
    /// <param name="buf">Moment buffers: m, v, and max v (AMSGrad).</param>
    /// <param name="lr">Learning rate η for this step.</param>
    /// <returns><c>s</c> with <c>Step + 1</c>.</returns>
    public static OptimizerState Update<T>(
        Adam h, OptimizerState s, Span<T> theta, ReadOnlySpan<T> g, OptimizerBuffers<T> buf, double lr)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(h);
        OptimizerGuard.Check(theta.Length, g.Length, buf, h.MomentCount, lr);
        AdamKernel.Step(s.Step + 1, h.Beta1, h.Beta2, h.Epsilon, h.Amsgrad, h.WeightDecay, theta, g, buf, lr);
        return s with { Step = s.Step + 1 };
    }
}

/// <summary>The Adam/AdamW inner loop, shared so both stay bit-identical in the Adam part, and generic over where g
/// comes from so the fused outer-product update (<see cref="OuterProductUpdate"/>) runs the same operations.</summary>
internal static class AdamKernel
{
    /// <summary>While set, <see cref="Step{T}"/> writes θ with non-temporal stores (the same values): a data-parallel
    /// step's split update, whose θ halves both cores' shards read next, so a plain store pays a cross-core invalidation
    /// per line (bench/RESULTS.md, "Seventh pass"). θ must be pinned. Set by <see cref="ParallelUpdate{T}"/> only.</summary>
    internal static volatile bool StreamTheta;

    /// <summary>θ of at least this many elements (4 MiB of floats) is written with non-temporal stores in the k = 1 split
    /// update as well (0: never; the bench switches it): too large for the caches, so a plain store's read for ownership
    /// only adds memory traffic to an update bound by it (784-1024-1024-10: 745–780 → 634–653 µs on two threads).</summary>
    internal static int StreamLarge = 1 << 20;

    /// <summary>Whether <see cref="ParallelUpdate{T}"/> sets <see cref="StreamTheta"/> for a micro-sharded step (the
    /// bench switches it by reflection).</summary>
    internal static bool StreamInShardedSteps = true;

    /// <summary>Updates that wrote θ with non-temporal stores (for tests: the path is really taken).</summary>
    internal static long StreamedUpdates;

    internal static void Step<T>(
        long t, double beta1, double beta2, double epsilon, bool amsgrad, double l2,
        Span<T> theta, ReadOnlySpan<T> g, OptimizerBuffers<T> buf, double lr)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var c = new Constants<T>(t, beta1, beta2, epsilon, amsgrad, l2, lr);
        var source = new StoredGradient<T>(g);
        if (StreamTheta && !amsgrad && StreamedApply(c, theta, g, buf.Moment(0), buf.Moment(1)))
            return;
        Apply(c, theta, source, buf.Moment(0), buf.Moment(1), amsgrad ? buf.Moment(2) : default);
    }

    /// <summary><see cref="Apply{T, TSource}"/> with θ written by non-temporal 256-bit stores from its first 32-byte
    /// boundary (the elements before it through the plain loop, the tail through the scalar loop: the same operations,
    /// so the same bits); false when the CPU has no AVX or the vectors are not 256 bits.</summary>
    internal static unsafe bool StreamedApply<T>(in Constants<T> c, Span<T> theta, ReadOnlySpan<T> gradient, Span<T> m, Span<T> v)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (!StreamedStore.Supported<T>()) return false;
        fixed (T* pt = theta)   // pinned already (the split update's); fixed only to take the address
        {
            if ((nint)pt % sizeof(T) != 0) return false;
            int head = Math.Min((int)((32 - ((nint)pt & 31)) & 31) / sizeof(T), theta.Length);
            Apply(c, theta[..head], new StoredGradient<T>(gradient[..head]), m[..head], v[..head], default);
            Apply<T, StoredGradient<T>, StreamedStore>(c, theta[head..], new StoredGradient<T>(gradient[head..]), m[head..], v[head..], default);
            System.Runtime.Intrinsics.X86.Sse.StoreFence();
        }
        Interlocked.Increment(ref StreamedUpdates);
        return true;
    }

    /// <summary>One dense layer of a one-sample step: AdamW's decoupled decay θ ← θ·s[9] when s[9] ≠ 1, then the Adam
    /// step with g = δaᵀ (weights, row by row) and δ (bias) formed as read.</summary>
    internal static void Fused<T>(scoped in FusedScalars<T> s, scoped in FusedLayer<T> layer)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var c = new Constants<T>(s);
        T decay = s[9];
        Span<T> th = layer.Theta;
        ReadOnlySpan<T> delta = layer.Delta, input = layer.Input;
        int inputs = layer.Inputs, outputs = layer.Outputs, weights = inputs * outputs;
        if (decay != T.One)
        {
            System.Numerics.Tensors.TensorPrimitives.Multiply(th, decay, th);   // AdamW's decoupled decay, before the Adam step
        }

        Span<T> m = layer.Moment(0);
        Span<T> v = layer.Moment(1);
        Span<T> vmax = c.Amsgrad ? layer.Moment(2) : default;
        for (int r = 0; r < outputs; r++)
        {
            int at = r * inputs;
            Apply(c, th.Slice(at, inputs), new OuterProductRow<T>(delta[r], input), m.Slice(at, inputs), v.Slice(at, inputs),
                c.Amsgrad ? vmax.Slice(at, inputs) : default);
        }

        Apply(c, th.Slice(weights, outputs), new StoredGradient<T>(delta), m.Slice(weights, outputs), v.Slice(weights, outputs),
            c.Amsgrad ? vmax.Slice(weights, outputs) : default);
    }

    /// <summary>The per-step scalars: β's, η/(1−β₁ᵗ), 1/√(1−β₂ᵗ), ε, λ.</summary>
    internal readonly struct Constants<T>
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        internal readonly T B1, OneMinusB1, B2, OneMinusB2, StepSize, InvSqrtBc2, Eps, Lambda;
        internal readonly bool Amsgrad;

        internal Constants(long t, double beta1, double beta2, double epsilon, bool amsgrad, double l2, double lr)
        {
            double td = t;
            B1 = OptimizerGuard.Of<T>(beta1);
            OneMinusB1 = OptimizerGuard.Of<T>(1 - beta1);
            B2 = OptimizerGuard.Of<T>(beta2);
            OneMinusB2 = OptimizerGuard.Of<T>(1 - beta2);
            StepSize = OptimizerGuard.Of<T>(lr / (1 - Math.Pow(beta1, td)));
            InvSqrtBc2 = OptimizerGuard.Of<T>(1 / Math.Sqrt(1 - Math.Pow(beta2, td)));
            Eps = OptimizerGuard.Of<T>(epsilon);
            Lambda = OptimizerGuard.Of<T>(l2);
            Amsgrad = amsgrad;
        }

        /// <summary>A copy of what <see cref="Store"/> wrote.</summary>
        internal Constants(scoped in FusedScalars<T> s)
        {
            B1 = s[0];
            OneMinusB1 = s[1];
            B2 = s[2];
            OneMinusB2 = s[3];
            StepSize = s[4];
            InvSqrtBc2 = s[5];
            Eps = s[6];
            Lambda = s[7];
            Amsgrad = s[8] != T.Zero;
        }

        /// <summary>Slots 0–7: the scalars; 8: AMSGrad (1 or 0); 9: the decoupled decay factor (1: none).</summary>
        internal void Store(ref FusedScalars<T> s, T decay)
        {
            s[0] = B1;
            s[1] = OneMinusB1;
            s[2] = B2;
            s[3] = OneMinusB2;
            s[4] = StepSize;
            s[5] = InvSqrtBc2;
            s[6] = Eps;
            s[7] = Lambda;
            s[8] = Amsgrad ? T.One : T.Zero;
            s[9] = decay;
        }
    }

    /// <summary>θ, m, v (and max v) over one range, gᵢ read from <paramref name="g"/>.</summary>
    internal static void Apply<T, TSource>(
        in Constants<T> c, Span<T> theta, TSource g, Span<T> m, Span<T> v, Span<T> vmax)
        where T : unmanaged, IFloatingPointIeee754<T>
        where TSource : IGradientSource<T>, allows ref struct =>
        Apply<T, TSource, PlainStore>(c, theta, g, m, v, vmax);

    /// <summary>The Adam loop with θ's vector stores made by <typeparamref name="TStore"/> (plain, or past the caches:
    /// the same values either way); the scalar tail always stores plainly.</summary>
    internal static void Apply<T, TSource, TStore>(
        in Constants<T> c, Span<T> theta, TSource g, Span<T> m, Span<T> v, Span<T> vmax)
        where T : unmanaged, IFloatingPointIeee754<T>
        where TSource : IGradientSource<T>, allows ref struct
        where TStore : struct, IThetaStore
    {
        int i = 0;
        if (!c.Amsgrad && System.Numerics.Vector.IsHardwareAccelerated)
        {
            // The same operations in the same order as the scalar loop below, a vector at a time: bit-identical.
            var vb1 = new System.Numerics.Vector<T>(c.B1);
            var v1b1 = new System.Numerics.Vector<T>(c.OneMinusB1);
            var vb2 = new System.Numerics.Vector<T>(c.B2);
            var v1b2 = new System.Numerics.Vector<T>(c.OneMinusB2);
            var vstep = new System.Numerics.Vector<T>(c.StepSize);
            var vbc2 = new System.Numerics.Vector<T>(c.InvSqrtBc2);
            var veps = new System.Numerics.Vector<T>(c.Eps);
            var vlambda = new System.Numerics.Vector<T>(c.Lambda);
            ref T tr = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(theta);
            ref T mr = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(m);
            ref T vr = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(v);
            int width = System.Numerics.Vector<T>.Count;
            for (; i <= theta.Length - width; i += width)
            {
                var th = System.Numerics.Vector.LoadUnsafe(ref tr, (nuint)i);
                var gi = g.Vector(i) + vlambda * th;
                var mi = vb1 * System.Numerics.Vector.LoadUnsafe(ref mr, (nuint)i) + v1b1 * gi;
                mi.StoreUnsafe(ref mr, (nuint)i);
                var vi = vb2 * System.Numerics.Vector.LoadUnsafe(ref vr, (nuint)i) + v1b2 * gi * gi;
                vi.StoreUnsafe(ref vr, (nuint)i);
                TStore.Store(th - vstep * mi / (System.Numerics.Vector.SquareRoot(vi) * vbc2 + veps), ref tr, (nuint)i);
            }
        }

        for (; i < theta.Length; i++)
        {
            T gi = g.Scalar(i) + c.Lambda * theta[i];
            T mi = c.B1 * m[i] + c.OneMinusB1 * gi;
            m[i] = mi;
            T vi = c.B2 * v[i] + c.OneMinusB2 * gi * gi;
            v[i] = vi;
            if (c.Amsgrad)
            {
                vi = T.Max(vmax[i], vi);
                vmax[i] = vi;
            }

            theta[i] -= c.StepSize * mi / (T.Sqrt(vi) * c.InvSqrtBc2 + c.Eps);
        }
    }
}

/// <summary>How the Adam loop stores a vector of θ.</summary>
internal interface IThetaStore
{
    /// <summary>target[i … i + W) ← value.</summary>
    static abstract void Store<T>(System.Numerics.Vector<T> value, ref T target, nuint i) where T : unmanaged;
}

/// <summary>A plain store.</summary>
internal readonly struct PlainStore : IThetaStore
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store<T>(System.Numerics.Vector<T> value, ref T target, nuint i) where T : unmanaged =>
        value.StoreUnsafe(ref target, i);
}

/// <summary>A non-temporal 256-bit store (past the caches), for a pinned θ whose range starts on a 32-byte boundary;
/// only where <see cref="Supported{T}"/>.</summary>
internal readonly struct StreamedStore : IThetaStore
{
    /// <summary>AVX, 256-bit vectors, float or double.</summary>
    internal static unsafe bool Supported<T>() where T : unmanaged =>
        System.Runtime.Intrinsics.X86.Avx.IsSupported && System.Numerics.Vector<T>.Count * sizeof(T) == 32
        && (typeof(T) == typeof(float) || typeof(T) == typeof(double));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe void Store<T>(System.Numerics.Vector<T> value, ref T target, nuint i) where T : unmanaged
    {
        void* at = Unsafe.AsPointer(ref Unsafe.Add(ref target, i));
        if (typeof(T) == typeof(float))
            System.Runtime.Intrinsics.X86.Avx.StoreAlignedNonTemporal((float*)at, value.AsVector256().AsSingle());
        else
            System.Runtime.Intrinsics.X86.Avx.StoreAlignedNonTemporal((double*)at, value.AsVector256().AsDouble());
    }
}
