using System.Diagnostics;
using System.Numerics;
using System.Runtime.CompilerServices;

namespace Backprop.Functional.Kernels;

/// <summary>eˣ and ln x lane by lane for <see cref="Vector{T}"/> of float or double: System.Numerics.Vector's own
/// (typed, so T is reinterpreted; the JIT folds the type tests). Callers take their vector path only when
/// <see cref="Supported{T}"/>.</summary>
internal static class VectorMath
{
    /// <summary>Whether <see cref="Exp{T}"/> and <see cref="Log{T}"/> run vectorised for T.</summary>
    public static bool Supported<T>() where T : unmanaged, IFloatingPointIeee754<T> =>
        Vector.IsHardwareAccelerated && (typeof(T) == typeof(float) || typeof(T) == typeof(double));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector<T> Exp<T>(Vector<T> x) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (typeof(T) == typeof(double)) return Vector.Exp(x.As<T, double>()).As<double, T>();
        if (typeof(T) == typeof(float)) return Vector.Exp(x.As<T, float>()).As<float, T>();
        throw new UnreachableException();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector<T> Log<T>(Vector<T> x) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (typeof(T) == typeof(double)) return Vector.Log(x.As<T, double>()).As<double, T>();
        if (typeof(T) == typeof(float)) return Vector.Log(x.As<T, float>()).As<float, T>();
        throw new UnreachableException();
    }

    /// <summary><see cref="ExpClamped{TW, TV}"/> of four vectors at once, step by step across the four (the same
    /// operations lane by lane, so the same bits): four independent chains side by side in the instruction stream, so the
    /// core overlaps them instead of waiting on one chain's latency (the LSTM cell's four gates).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void ExpClamped4<TW, TV>(ref TV a, ref TV b, ref TV c, ref TV d)
        where TW : struct, IVectorWidth<TV, float>
        where TV : struct
    {
        var lo = TW.Broadcast(-87f);
        var hi = TW.Broadcast(88f);
        var magic = TW.Broadcast(12582912f);
        var log2e = TW.Broadcast(1.44269504088896341f);
        var ln2Hi = TW.Broadcast(-0.693359375f);
        var ln2Lo = TW.Broadcast(2.12194440e-4f);
        var c6 = TW.Broadcast(1.9875691500e-4f);
        var c5 = TW.Broadcast(1.3981999507e-3f);
        var c4 = TW.Broadcast(8.3334519073e-3f);
        var c3 = TW.Broadcast(4.1665795894e-2f);
        var c2 = TW.Broadcast(1.6666665459e-1f);
        var c1 = TW.Broadcast(5.0000001201e-1f);
        var one = TW.Broadcast(1f);
        var aIn = a;
        var bIn = b;
        var cIn = c;
        var dIn = d;
        a = TW.Min(TW.Max(a, lo), hi);
        b = TW.Min(TW.Max(b, lo), hi);
        c = TW.Min(TW.Max(c, lo), hi);
        d = TW.Min(TW.Max(d, lo), hi);
        var aN = TW.Subtract(TW.Fma(a, log2e, magic), magic);
        var bN = TW.Subtract(TW.Fma(b, log2e, magic), magic);
        var cN = TW.Subtract(TW.Fma(c, log2e, magic), magic);
        var dN = TW.Subtract(TW.Fma(d, log2e, magic), magic);
        var aR = TW.Fma(aN, ln2Hi, a);
        var bR = TW.Fma(bN, ln2Hi, b);
        var cR = TW.Fma(cN, ln2Hi, c);
        var dR = TW.Fma(dN, ln2Hi, d);
        aR = TW.Fma(aN, ln2Lo, aR);
        bR = TW.Fma(bN, ln2Lo, bR);
        cR = TW.Fma(cN, ln2Lo, cR);
        dR = TW.Fma(dN, ln2Lo, dR);
        var aP = TW.Fma(c6, aR, c5);
        var bP = TW.Fma(c6, bR, c5);
        var cP = TW.Fma(c6, cR, c5);
        var dP = TW.Fma(c6, dR, c5);
        aP = TW.Fma(aP, aR, c4);
        bP = TW.Fma(bP, bR, c4);
        cP = TW.Fma(cP, cR, c4);
        dP = TW.Fma(dP, dR, c4);
        aP = TW.Fma(aP, aR, c3);
        bP = TW.Fma(bP, bR, c3);
        cP = TW.Fma(cP, cR, c3);
        dP = TW.Fma(dP, dR, c3);
        aP = TW.Fma(aP, aR, c2);
        bP = TW.Fma(bP, bR, c2);
        cP = TW.Fma(cP, cR, c2);
        dP = TW.Fma(dP, dR, c2);
        aP = TW.Fma(aP, aR, c1);
        bP = TW.Fma(bP, bR, c1);
        cP = TW.Fma(cP, cR, c1);
        dP = TW.Fma(dP, dR, c1);
        var aY = TW.Add(TW.Fma(aP, TW.Multiply(aR, aR), aR), one);
        var bY = TW.Add(TW.Fma(bP, TW.Multiply(bR, bR), bR), one);
        var cY = TW.Add(TW.Fma(cP, TW.Multiply(cR, cR), cR), one);
        var dY = TW.Add(TW.Fma(dP, TW.Multiply(dR, dR), dR), one);
        a = TW.KeepNaN(aIn, TW.Multiply(aY, TW.Pow2(aN)));
        b = TW.KeepNaN(bIn, TW.Multiply(bY, TW.Pow2(bN)));
        c = TW.KeepNaN(cIn, TW.Multiply(cY, TW.Pow2(cN)));
        d = TW.KeepNaN(dIn, TW.Multiply(dY, TW.Pow2(dN)));
    }

    /// <summary>eˣ in float for x clamped to [−87, 88] (σ and tanh are 0, 1 or ±1 in float well inside that range; NaN
    /// stays NaN), written once for every vector width <typeparamref name="TW"/>: x = n·ln 2 + r with |r| ≤ ln 2 / 2
    /// (ln 2 in two parts, so r is exact), Cephes' degree-6 polynomial for eʳ (about 1 ulp), and 2ⁿ written into the
    /// exponent bits. The same operations lane by lane at every width, so the same bits. About a third of the time of
    /// the runtime's Vector.Exp, which evaluates float in double: the LSTM's forward cells' 5 exponentials per unit were
    /// 2.4–2.8 ms of an L1 step's forward pass (28 steps × 64 rows × 128 units).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static TV ExpClamped<TW, TV>(TV x)
        where TW : struct, IVectorWidth<TV, float>
        where TV : struct
    {
        var input = x;
        x = TW.Min(TW.Max(x, TW.Broadcast(-87f)), TW.Broadcast(88f));
        var magic = TW.Broadcast(12582912f);   // 1.5·2²³: adding it rounds to an integer, to nearest
        var n = TW.Subtract(TW.Fma(x, TW.Broadcast(1.44269504088896341f), magic), magic);
        var r = TW.Fma(n, TW.Broadcast(-0.693359375f), x);
        r = TW.Fma(n, TW.Broadcast(2.12194440e-4f), r);
        var p = TW.Broadcast(1.9875691500e-4f);
        p = TW.Fma(p, r, TW.Broadcast(1.3981999507e-3f));
        p = TW.Fma(p, r, TW.Broadcast(8.3334519073e-3f));
        p = TW.Fma(p, r, TW.Broadcast(4.1665795894e-2f));
        p = TW.Fma(p, r, TW.Broadcast(1.6666665459e-1f));
        p = TW.Fma(p, r, TW.Broadcast(5.0000001201e-1f));
        var y = TW.Add(TW.Fma(p, TW.Multiply(r, r), r), TW.Broadcast(1f));
        return TW.KeepNaN(input, TW.Multiply(y, TW.Pow2(n)));   // NaN in, NaN out
    }
}
