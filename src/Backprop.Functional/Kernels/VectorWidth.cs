using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Backprop.Functional.Kernels;

/// <summary>The operations of one vector width, as a type parameter: a kernel written once over a width
/// <c>TW : IVectorWidth&lt;TV, T&gt;</c> (with TV its vector type, Vector512&lt;T&gt; or Vector256&lt;T&gt;) compiles to its
/// own straight-line code for each width, with no per-call decision. A stand-in for the runtime's <c>ISimdVector</c>,
/// which Vector256/512 do not implement publicly yet, holding only what the GEMM tiles and the LSTM's cells use. The kernels' locals are the
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

    /// <summary>x − y lane by lane.</summary>
    static abstract TV Subtract(TV x, TV y);

    /// <summary>x · y lane by lane.</summary>
    static abstract TV Multiply(TV x, TV y);

    /// <summary>x / y lane by lane.</summary>
    static abstract TV Divide(TV x, TV y);

    /// <summary>−x lane by lane (the sign bit flipped).</summary>
    static abstract TV Negate(TV x);

    /// <summary>The runtime's lane-wise minimum of x and y for this width.</summary>
    static abstract TV Min(TV x, TV y);

    /// <summary>The runtime's lane-wise maximum of x and y for this width.</summary>
    static abstract TV Max(TV x, TV y);

    /// <summary>2ⁿ lane by lane for whole n in the normal exponent range, written into the exponent bits.</summary>
    static abstract TV Pow2(TV n);

    /// <summary><paramref name="value"/> in the lanes where x is a number, x (NaN) where it is NaN.</summary>
    static abstract TV KeepNaN(TV x, TV value);

    /// <summary>eˣ as the recurrent cells take it: float by <see cref="VectorMath.ExpClamped{TW, TV}"/> (about 1 ulp on
    /// [−87, 88], clamped outside), double by the runtime's eˣ for this width.</summary>
    static abstract TV GateExp(TV x);

    /// <summary><see cref="GateExp"/> of four vectors in place: for float the four chains interleaved step by step
    /// (<see cref="VectorMath.ExpClamped4{TW, TV}"/>, the same bits as four calls), for double four calls.</summary>
    static abstract void GateExp4(ref TV a, ref TV b, ref TV c, ref TV d);

    /// <summary>Bitwise x &amp; mask (a masked tail).</summary>
    static abstract TV And(TV x, TV mask);

    /// <summary>The sum of the lanes (the runtime's order for this width).</summary>
    static abstract T Sum(TV v);

    /// <summary>All-ones in lanes i ≥ Count − <paramref name="tail"/>, zero below: keeps the last
    /// <paramref name="tail"/> lanes of an overlapping load that ends at k.</summary>
    static abstract TV TailMask(int tail);

    /// <summary>Bit i set where lane i is not zero (NaN counts as not zero).</summary>
    static abstract ulong NonZeroBits(TV v);
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
    public static Vector512<T> Subtract(Vector512<T> x, Vector512<T> y) => x - y;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> Multiply(Vector512<T> x, Vector512<T> y) => x * y;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> Divide(Vector512<T> x, Vector512<T> y) => x / y;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> Negate(Vector512<T> x) => -x;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> Min(Vector512<T> x, Vector512<T> y) => Vector512.Min(x, y);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> Max(Vector512<T> x, Vector512<T> y) => Vector512.Max(x, y);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> Pow2(Vector512<T> n) => typeof(T) == typeof(float)
        ? Vector512.ShiftLeft(Vector512.ConvertToInt32(n.As<T, float>()) + Vector512.Create(127), 23).As<int, T>()
        : Vector512.ShiftLeft(Vector512.ConvertToInt64(n.As<T, double>()) + Vector512.Create(1023L), 52).As<long, T>();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> KeepNaN(Vector512<T> x, Vector512<T> value) => Vector512.ConditionalSelect(Vector512.Equals(x, x), value, x);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void GateExp4(ref Vector512<T> a, ref Vector512<T> b, ref Vector512<T> c, ref Vector512<T> d)
    {
        if (typeof(T) == typeof(float))
        {
            var (fa, fb, fc, fd) = (a.As<T, float>(), b.As<T, float>(), c.As<T, float>(), d.As<T, float>());
            VectorMath.ExpClamped4<Wide512<float>, Vector512<float>>(ref fa, ref fb, ref fc, ref fd);
            (a, b, c, d) = (fa.As<float, T>(), fb.As<float, T>(), fc.As<float, T>(), fd.As<float, T>());
        }
        else
        {
            (a, b, c, d) = (GateExp(a), GateExp(b), GateExp(c), GateExp(d));
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> GateExp(Vector512<T> x) => typeof(T) == typeof(float)
        ? VectorMath.ExpClamped<Wide512<float>, Vector512<float>>(x.As<T, float>()).As<float, T>()
        : Vector512.Exp(x.As<T, double>()).As<double, T>();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> And(Vector512<T> x, Vector512<T> mask) => x & mask;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T Sum(Vector512<T> v) => Vector512.Sum(v);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong NonZeroBits(Vector512<T> v) => (~Vector512.Equals(v, Vector512<T>.Zero)).ExtractMostSignificantBits();

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
    public static Vector256<T> Subtract(Vector256<T> x, Vector256<T> y) => x - y;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> Multiply(Vector256<T> x, Vector256<T> y) => x * y;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> Divide(Vector256<T> x, Vector256<T> y) => x / y;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> Negate(Vector256<T> x) => -x;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> Min(Vector256<T> x, Vector256<T> y) => Vector256.Min(x, y);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> Max(Vector256<T> x, Vector256<T> y) => Vector256.Max(x, y);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> Pow2(Vector256<T> n) => typeof(T) == typeof(float)
        ? Vector256.ShiftLeft(Vector256.ConvertToInt32(n.As<T, float>()) + Vector256.Create(127), 23).As<int, T>()
        : Vector256.ShiftLeft(Vector256.ConvertToInt64(n.As<T, double>()) + Vector256.Create(1023L), 52).As<long, T>();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> KeepNaN(Vector256<T> x, Vector256<T> value) => Vector256.ConditionalSelect(Vector256.Equals(x, x), value, x);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void GateExp4(ref Vector256<T> a, ref Vector256<T> b, ref Vector256<T> c, ref Vector256<T> d)
    {
        if (typeof(T) == typeof(float))
        {
            var (fa, fb, fc, fd) = (a.As<T, float>(), b.As<T, float>(), c.As<T, float>(), d.As<T, float>());
            VectorMath.ExpClamped4<Wide256<float>, Vector256<float>>(ref fa, ref fb, ref fc, ref fd);
            (a, b, c, d) = (fa.As<float, T>(), fb.As<float, T>(), fc.As<float, T>(), fd.As<float, T>());
        }
        else
        {
            (a, b, c, d) = (GateExp(a), GateExp(b), GateExp(c), GateExp(d));
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> GateExp(Vector256<T> x) => typeof(T) == typeof(float)
        ? VectorMath.ExpClamped<Wide256<float>, Vector256<float>>(x.As<T, float>()).As<float, T>()
        : Vector256.Exp(x.As<T, double>()).As<double, T>();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> And(Vector256<T> x, Vector256<T> mask) => x & mask;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T Sum(Vector256<T> v) => Vector256.Sum(v);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong NonZeroBits(Vector256<T> v) => (~Vector256.Equals(v, Vector256<T>.Zero)).ExtractMostSignificantBits();

    public static Vector256<T> TailMask(int tail) =>
        Vector256.GreaterThanOrEqual(Vector256<T>.Indices, Vector256.Create(T.CreateTruncating(Vector256<T>.Count - tail)));
}

/// <summary>The runtime's <see cref="Vector{T}"/> (256 bits with AVX2, 128 with SSE or Arm's AdvSimd, whatever 512-bit
/// support exists): the width of the kernels' portable loops, which run on every machine with any vector unit.</summary>
internal readonly struct WideVector<T> : IVectorWidth<Vector<T>, T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    public static int Count => Vector<T>.Count;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector<T> Load(ref T source, nuint index) => Vector.LoadUnsafe(ref source, index);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector<T> Broadcast(T value) => new(value);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Store(Vector<T> v, ref T destination, nuint index) => v.StoreUnsafe(ref destination, index);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector<T> Fma(Vector<T> x, Vector<T> y, Vector<T> z) => typeof(T) == typeof(float)
        ? Vector.FusedMultiplyAdd(x.As<T, float>(), y.As<T, float>(), z.As<T, float>()).As<float, T>()
        : Vector.FusedMultiplyAdd(x.As<T, double>(), y.As<T, double>(), z.As<T, double>()).As<double, T>();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector<T> Add(Vector<T> x, Vector<T> y) => x + y;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector<T> Subtract(Vector<T> x, Vector<T> y) => x - y;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector<T> Multiply(Vector<T> x, Vector<T> y) => x * y;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector<T> Divide(Vector<T> x, Vector<T> y) => x / y;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector<T> Negate(Vector<T> x) => -x;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector<T> Min(Vector<T> x, Vector<T> y) => Vector.Min(x, y);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector<T> Max(Vector<T> x, Vector<T> y) => Vector.Max(x, y);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector<T> Pow2(Vector<T> n) => typeof(T) == typeof(float)
        ? Vector.ShiftLeft(Vector.ConvertToInt32(n.As<T, float>()) + new Vector<int>(127), 23).As<int, T>()
        : Vector.ShiftLeft(Vector.ConvertToInt64(n.As<T, double>()) + new Vector<long>(1023), 52).As<long, T>();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector<T> KeepNaN(Vector<T> x, Vector<T> value) => Vector.ConditionalSelect(Vector.Equals(x, x), value, x);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void GateExp4(ref Vector<T> a, ref Vector<T> b, ref Vector<T> c, ref Vector<T> d)
    {
        if (typeof(T) == typeof(float))
        {
            var (fa, fb, fc, fd) = (a.As<T, float>(), b.As<T, float>(), c.As<T, float>(), d.As<T, float>());
            VectorMath.ExpClamped4<WideVector<float>, Vector<float>>(ref fa, ref fb, ref fc, ref fd);
            (a, b, c, d) = (fa.As<float, T>(), fb.As<float, T>(), fc.As<float, T>(), fd.As<float, T>());
        }
        else
        {
            (a, b, c, d) = (GateExp(a), GateExp(b), GateExp(c), GateExp(d));
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector<T> GateExp(Vector<T> x) => typeof(T) == typeof(float)
        ? VectorMath.ExpClamped<WideVector<float>, Vector<float>>(x.As<T, float>()).As<float, T>()
        : Vector.Exp(x.As<T, double>()).As<double, T>();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector<T> And(Vector<T> x, Vector<T> mask) => x & mask;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T Sum(Vector<T> v) => Vector.Sum(v);

    public static ulong NonZeroBits(Vector<T> v)
    {
        ulong bits = 0;
        for (int i = 0; i < Vector<T>.Count; i++)
            if (v[i] != T.Zero) bits |= 1UL << i;
        return bits;
    }

    public static Vector<T> TailMask(int tail) =>
        Vector.GreaterThanOrEqual(Vector<T>.Indices, new Vector<T>(T.CreateTruncating(Vector<T>.Count - tail)));
}
