using System.Numerics;

namespace Backprop.Functional.Kernels;

/// <summary>An element-wise function f(z, a) of a pre-activation z and its activation a = σ(z), in scalar and
/// vector form (the TensorPrimitives operator pattern; theirs are internal, so the library has its own).</summary>
internal interface IElementOp<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>f(z, a) for one element.</summary>
    static abstract T Invoke(T z, T a);

    /// <summary>f(z, a) lane by lane.</summary>
    static abstract Vector<T> Invoke(Vector<T> z, Vector<T> a);
}
