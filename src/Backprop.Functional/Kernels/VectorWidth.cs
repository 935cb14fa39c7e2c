using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Backprop.Functional.Kernels;

/// <summary>The operations of one vector width, as a type parameter: a kernel written once over a width
/// <c>TW : IVectorWidth&lt;TV, T&gt;</c> (with TV its vector type, Vector512&lt;T&gt; or Vector256&lt;T&gt;) compiles to its
/// own straight-line code for each width, with no per-call decision. A stand-in for the runtime's <c>ISimdVector</c>,
/// which Vector256/512 do not implement publicly yet, holding only what the GEMM tiles use. The kernels' locals are the
/// bare vector types, not wrappers: a one-field wrapper struct cost the micro-kernel's loop a register copy per FMA
/// chain (the JIT's listing had 31 instructions per k step against 24), bare vectors give the same listing as the
/// hand-written twins did (bench/RESULTS.md, "GEMM thresholds and compilation").</summary>
/// <typeparam name="TV">The vector type of this width.</typeparam>
/// <typeparam name="T">float or double.</typeparam>
internal interface IVectorWidth<TV, T>
    where TV : struct
    where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Lanes per vector.</summary>
    static abstract int Count { get; }

    /// <summary>source[index ..] as a vector (no bounds check: the caller guarantees the lanes exist).</summary>
    static abstract TV Load(ref T source, nuint index);

    /// <summary>value in every lane.</summary>
    static abstract TV Broadcast(T value);

    /// <summary>Writes v to destination[index ..].</summary>
    static abstract void Store(TV v, ref T destination, nuint index);

    /// <summary>x·y + z lane by lane, rounded once.</summary>
    static abstract TV Fma(TV x, TV y, TV z);

    /// <summary>x + y lane by lane.</summary>
    static abstract TV Add(TV x, TV y);

    /// <summary>Bitwise x &amp; mask (a masked tail).</summary>
    static abstract TV And(TV x, TV mask);

    /// <summary>The sum of the lanes (the runtime's order for this width).</summary>
    static abstract T Sum(TV v);

    /// <summary>All-ones in lanes i ≥ Count − <paramref name="tail"/>, zero below: keeps the last
    /// <paramref name="tail"/> lanes of an overlapping load that ends at k.</summary>
    static abstract TV TailMask(int tail);
}

/// <summary>512-bit vectors of T (AVX-512).</summary>
internal readonly struct Wide512<T> : IVectorWidth<Vector512<T>, T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    public static int Count => Vector512<T>.Count;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> Load(ref T source, nuint index) => Vector512.LoadUnsafe(ref source, index);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> Broadcast(T value) => Vector512.Create(value);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(Vector512<T> v, ref T destination, nuint index) => v.StoreUnsafe(ref destination, index);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> Fma(Vector512<T> x, Vector512<T> y, Vector512<T> z) => Gemm.MicroKernel<T>.Fma(x, y, z);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> Add(Vector512<T> x, Vector512<T> y) => x + y;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> And(Vector512<T> x, Vector512<T> mask) => x & mask;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T Sum(Vector512<T> v) => Vector512.Sum(v);

    public static Vector512<T> TailMask(int tail) =>
        Vector512.GreaterThanOrEqual(Vector512<T>.Indices, Vector512.Create(T.CreateTruncating(Vector512<T>.Count - tail)));
}

/// <summary>256-bit vectors of T (AVX2, and the x86-64-v3 AOT build).</summary>
internal readonly struct Wide256<T> : IVectorWidth<Vector256<T>, T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    public static int Count => Vector256<T>.Count;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> Load(ref T source, nuint index) => Vector256.LoadUnsafe(ref source, index);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> Broadcast(T value) => Vector256.Create(value);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(Vector256<T> v, ref T destination, nuint index) => v.StoreUnsafe(ref destination, index);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> Fma(Vector256<T> x, Vector256<T> y, Vector256<T> z) => Gemm.MicroKernel<T>.Fma(x, y, z);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> Add(Vector256<T> x, Vector256<T> y) => x + y;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> And(Vector256<T> x, Vector256<T> mask) => x & mask;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T Sum(Vector256<T> v) => Vector256.Sum(v);

    public static Vector256<T> TailMask(int tail) =>
        Vector256.GreaterThanOrEqual(Vector256<T>.Indices, Vector256.Create(T.CreateTruncating(Vector256<T>.Count - tail)));
}
