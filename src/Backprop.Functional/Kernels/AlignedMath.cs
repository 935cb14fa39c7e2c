using System.Numerics;
using System.Runtime.CompilerServices;
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
/// <para>So TensorPrimitives only sees arguments in a range where that path is never taken (<see cref="ISpanOp{T}.Limit"/>);
/// the few past it (and NaN) get 0 in the vector call and then their scalar value from the runtime's libm (tanh ±1, σ 0
/// or 1, eˣ 0 or ∞ far out).</para>
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
        /// <summary>Arguments within ±this go to TensorPrimitives (its exp never takes its
        /// out-of-range path.</summary>
        static abstract T Limit { get; }

        static abstract void Invoke(ReadOnlySpan<T> x, Span<T> destination);

        /// <summary>The scalar form (the runtime's libm), for the arguments past <see cref="Limit"/> and NaN.</summary>
        static abstract T Scalar(T x);
    }

    /// <summary>20: exp's argument (−2|x|) stays at −40 or above.</summary>
    private readonly struct TanhOp<T> : ISpanOp<T> where T : unmanaged, IFloatingPointIeee754<T>
    {
        private static readonly T Bound = T.CreateChecked(20);

        public static T Limit => Bound;

        public static void Invoke(ReadOnlySpan<T> x, Span<T> destination) => TensorPrimitives.Tanh(x, destination);

        public static T Scalar(T x) => T.Tanh(x);
    }

    /// <summary>700 in double, 80 in float: inside exp's range.</summary>
    private readonly struct SigmoidOp<T> : ISpanOp<T> where T : unmanaged, IFloatingPointIeee754<T>
    {
        private static readonly T Bound = T.CreateChecked(typeof(T) == typeof(float) ? 80 : 700);

        public static T Limit => Bound;

        public static void Invoke(ReadOnlySpan<T> x, Span<T> destination) => TensorPrimitives.Sigmoid(x, destination);

        public static T Scalar(T x) => T.One / (T.One + T.Exp(-x));
    }

    /// <summary>The same bounds as <see cref="SigmoidOp{T}"/>.</summary>
    private readonly struct ExpOp<T> : ISpanOp<T> where T : unmanaged, IFloatingPointIeee754<T>
    {
        private static readonly T Bound = T.CreateChecked(typeof(T) == typeof(float) ? 80 : 700);

        public static T Limit => Bound;

        public static void Invoke(ReadOnlySpan<T> x, Span<T> destination) => TensorPrimitives.Exp(x, destination);

        public static T Scalar(T x) => T.Exp(x);
    }

    [SkipLocalsInit]   // the block buffer is written before it is read: no need to zero 1–2 KB a call
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
            // the usual case, every argument inside (one vectorised pass; NaN propagates, and fails the test), is a copy
            bool outside = !(T.Abs(TensorPrimitives.MaxMagnitude(block)) <= limit);
            if (!outside) block.CopyTo(scratch);
            else
            {
                for (int k = 0; k < n; k++)
                {
                    T v = block[k];
                    scratch[k] = T.Abs(v) <= limit ? v : T.Zero;   // false for NaN
                }
            }
            scratch[n..padded].Clear();
            TOp.Invoke(scratch[..padded], scratch[..padded]);
            if (outside)
            {
                for (int k = 0; k < n; k++)
                    if (!(T.Abs(block[k]) <= limit)) scratch[k] = TOp.Scalar(block[k]);
            }
            scratch[..n].CopyTo(destination.Slice(i, n));
        }
    }
}
