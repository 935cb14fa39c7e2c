using System.Numerics;
using System.Numerics.Tensors;

namespace Backprop.Functional.Kernels;

/// <summary>
/// TensorPrimitives' tanh, sigmoid and exp with bits that depend on the values alone: not on where the data sits in
/// memory, nor on the JIT tier the runtime has reached.
/// <para>TensorPrimitives aligns its main loop to the destination's address, so which elements share a vector depends
/// on the address; and its exp (under tanh and sigmoid) takes another path for a whole vector when any lane's argument
/// is out of range (|x| past 708 in double), which moves the other lanes' results by a few ulps, and whose bits also
/// changed when the runtime recompiled it at tier 1. So the same values gave other bits in a buffer 32 bytes further on,
/// or after a few hundred calls: GELU's σ′ (written into a stack buffer, whose address depends on the call chain and
/// the JIT tier) differed between the whole and the layer-by-layer step (issue 15's failing case 65-186-238-309-1 GELU:
/// 4 of 20,085 elements of δ), and GELU's forward pass changed 75 elements of a² once the process had warmed up.</para>
/// <para>So the arguments are clamped to a range where that path is never taken (<see cref="ISpanOp{T}.Limit"/>: exact
/// for tanh; for sigmoid and exp it replaces results below 1e-304, or 1e-34 in float, by that bound).</para>
/// <para>Here each call runs on blocks of <see cref="Block"/> elements counted from the span's start, copied into a
/// 64-byte-aligned stack buffer and padded with zeros to a multiple of 16, so every vector holds the same elements
/// (those of the block's aligned group of 8 or 16) whatever the addresses: the result is a function of the values and of
/// their positions in the span. Slices that start at multiples of 16 (the owner-computes blocks, GELU's 256-element
/// chunks) get the groups of the whole span. The copies cost two passes of L1-resident memory per call.</para>
/// </summary>
internal static class AlignedMath
{
    /// <summary>Elements per block (a multiple of every vector's lane count).</summary>
    internal const int Block = 256;

    /// <summary>destination = tanh(x); x may be destination.</summary>
    public static void Tanh<T>(ReadOnlySpan<T> x, Span<T> destination) where T : unmanaged, IFloatingPointIeee754<T> =>
        Run<TanhOp<T>, T>(x, destination);

    /// <summary>destination = 1 / (1 + e⁻ˣ); x may be destination.</summary>
    public static void Sigmoid<T>(ReadOnlySpan<T> x, Span<T> destination) where T : unmanaged, IFloatingPointIeee754<T> =>
        Run<SigmoidOp<T>, T>(x, destination);

    /// <summary>destination = eˣ; x may be destination.</summary>
    public static void Exp<T>(ReadOnlySpan<T> x, Span<T> destination) where T : unmanaged, IFloatingPointIeee754<T> =>
        Run<ExpOp<T>, T>(x, destination);

    private interface ISpanOp<T>
    {
        /// <summary>Arguments are clamped to ±this before the call: inside it TensorPrimitives' exp never takes its
        /// out-of-range path.</summary>
        static abstract T Limit { get; }

        static abstract void Invoke(ReadOnlySpan<T> x, Span<T> destination);
    }

    /// <summary>tanh is ±1 exactly from |x| = 20 on in float and double (1 − 2e⁻⁴⁰ rounds to 1), so the clamp changes
    /// nothing, and exp's argument (−2|x|) stays at −40 or above.</summary>
    private readonly struct TanhOp<T> : ISpanOp<T> where T : unmanaged, IFloatingPointIeee754<T>
    {
        private static readonly T Bound = T.CreateChecked(20);

        public static T Limit => Bound;

        public static void Invoke(ReadOnlySpan<T> x, Span<T> destination) => TensorPrimitives.Tanh(x, destination);
    }

    /// <summary>±700 in double, ±80 in float: σ is 1 exactly above, and below it is under 1e-304 (1e-34 in float); those
    /// arguments now give σ(−700) (σ(−80)) instead of the smaller value.</summary>
    private readonly struct SigmoidOp<T> : ISpanOp<T> where T : unmanaged, IFloatingPointIeee754<T>
    {
        private static readonly T Bound = T.CreateChecked(typeof(T) == typeof(float) ? 80 : 700);

        public static T Limit => Bound;

        public static void Invoke(ReadOnlySpan<T> x, Span<T> destination) => TensorPrimitives.Sigmoid(x, destination);
    }

    /// <summary>The same bounds as <see cref="SigmoidOp{T}"/>: softmax passes z − max z ≤ 0, and e⁻⁷⁰⁰ (e⁻⁸⁰) stands
    /// for the smaller values.</summary>
    private readonly struct ExpOp<T> : ISpanOp<T> where T : unmanaged, IFloatingPointIeee754<T>
    {
        private static readonly T Bound = T.CreateChecked(typeof(T) == typeof(float) ? 80 : 700);

        public static T Limit => Bound;

        public static void Invoke(ReadOnlySpan<T> x, Span<T> destination) => TensorPrimitives.Exp(x, destination);
    }

    private static unsafe void Run<TOp, T>(ReadOnlySpan<T> x, Span<T> destination)
        where TOp : struct, ISpanOp<T> where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (x.Length != destination.Length)
            throw new ArgumentException($"destination has {destination.Length} elements but x has {x.Length}", nameof(destination));
        if (x.IsEmpty) return;
        T limit = TOp.Limit;
        byte* raw = stackalloc byte[Block * sizeof(T) + 64];
        var scratch = new Span<T>((void*)(((nint)raw + 63) & ~(nint)63), Block);
        for (int i = 0; i < x.Length; i += Block)
        {
            int n = Math.Min(Block, x.Length - i), padded = (n + 15) & ~15;
            var block = x.Slice(i, n);
            for (int k = 0; k < n; k++) scratch[k] = T.Clamp(block[k], -limit, limit);   // NaN stays NaN
            scratch[n..padded].Clear();
            TOp.Invoke(scratch[..padded], scratch[..padded]);
            scratch[..n].CopyTo(destination.Slice(i, n));
        }
    }
}
