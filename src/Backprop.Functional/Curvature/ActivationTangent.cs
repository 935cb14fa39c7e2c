using System.Numerics;
using System.Numerics.Tensors;

namespace Backprop.Functional;

/// <summary>The R-operator of an activation's vector–Jacobian product, the piece the Hessian-vector product adds to BP1
/// and BP2. With δ = J_σ(z)ᵀu and a tangent ż (ȧ = J_σ ż) and Ru:
/// <list type="bullet">
/// <item>element-wise σ: δ = σ′(z) ⊙ u and R{δ} = σ″(z) ⊙ ż ⊙ u + σ′(z) ⊙ Ru;</item>
/// <item>softmax, per row: δ = a ⊙ (u − a·u) and R{δ} = ȧ ⊙ (u − a·u) + a ⊙ (Ru − ȧ·u − a·Ru).</item>
/// </list></summary>
internal static class ActivationTangent
{
    /// <summary>R{δ} into <paramref name="ru"/> and δ into <paramref name="u"/>, both in place; rows of <paramref name="width"/>.</summary>
    public static void Error<T>(ActivationKind kind, ReadOnlySpan<T> z, ReadOnlySpan<T> zDot, ReadOnlySpan<T> a, ReadOnlySpan<T> aDot,
        Span<T> u, Span<T> ru, int width) where T : unmanaged, IFloatingPointIeee754<T>
    {
        switch (kind)
        {
            case ActivationKind.Identity: return;   // σ′ = 1, σ″ = 0: δ = u, R{δ} = Ru
            case ActivationKind.Sigmoid: Elementwise<Sigmoid, T>(z, zDot, a, u, ru); break;
            case ActivationKind.Tanh: Elementwise<Tanh, T>(z, zDot, a, u, ru); break;
            case ActivationKind.ReLU: Elementwise<ReLU, T>(z, zDot, a, u, ru); break;
            case ActivationKind.LeakyReLU: Elementwise<LeakyReLU, T>(z, zDot, a, u, ru); break;
            case ActivationKind.Softplus: Elementwise<Softplus, T>(z, zDot, a, u, ru); break;
            case ActivationKind.GELU: Elementwise<GELU, T>(z, zDot, a, u, ru); break;
            case ActivationKind.Softmax: SoftmaxRows(a, aDot, u, ru, width); break;
            default: Shapes.ThrowUnknown(kind); break;
        }
    }

    private static void Elementwise<TAct, T>(ReadOnlySpan<T> z, ReadOnlySpan<T> zDot, ReadOnlySpan<T> a, Span<T> u, Span<T> ru)
        where TAct : struct, IElementwiseActivation where T : unmanaged, IFloatingPointIeee754<T>
    {
        Shapes.RequireSameLength(z, u, nameof(z), nameof(u));
        Shapes.RequireSameLength(zDot, ru, nameof(zDot), nameof(ru));
        for (int i = 0; i < u.Length; i++)
        {
            T d1 = TAct.Derivative(z[i], a[i]);
            ru[i] = TAct.SecondDerivative(z[i], a[i]) * zDot[i] * u[i] + d1 * ru[i];
            u[i] = d1 * u[i];
        }
    }

    private static void SoftmaxRows<T>(ReadOnlySpan<T> a, ReadOnlySpan<T> aDot, Span<T> u, Span<T> ru, int width)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int r = 0; r < u.Length; r += width)
        {
            var ar = a.Slice(r, width);
            var adr = aDot.Slice(r, width);
            var ur = u.Slice(r, width);
            var rur = ru.Slice(r, width);
            T au = TensorPrimitives.Dot<T>(ar, ur), adu = TensorPrimitives.Dot<T>(adr, ur), aru = TensorPrimitives.Dot<T>(ar, rur);
            for (int j = 0; j < width; j++)
            {
                rur[j] = adr[j] * (ur[j] - au) + ar[j] * (rur[j] - adu - aru);
                ur[j] = ar[j] * (ur[j] - au);
            }
        }
    }
}
