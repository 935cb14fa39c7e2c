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
}
