using System.Numerics;
using System.Numerics.Tensors;
using Backprop.Functional.Kernels;

namespace Backprop.Functional;

/// <summary>The diagonal of the empirical Fisher, (1/m) Σᵢ ∇ℓᵢ ⊙ ∇ℓᵢ over the m rows of a batch, for Martens' (2010
/// §4.7) Hessian-free preconditioner, formed from the backward pass's δ and a without per-sample gradient vectors: for a
/// dense layer ∇_W ℓᵢ = m δᵢ aᵢᵀ (δ of the mean cost carries the 1/m), so the mean of its squares is
/// m (δ⊙δ)ᵀ(a⊙a), and the bias's is m Σᵢ δᵢ⊙δᵢ. One GEMM per layer, the size of the weight gradient's.</summary>
internal static class SquaredGradients
{
    /// <summary>Whether <see cref="Compute{T}"/> can run on <paramref name="spec"/> (every layer dense).</summary>
    public static bool Supports(NetworkSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        foreach (var layer in spec.Layers)
            if (layer is not Dense) return false;
        return true;
    }

    /// <summary>After <see cref="Curvature.Gradient{T}"/> on x: (1/m) Σᵢ ∇ℓᵢ ⊙ ∇ℓᵢ into <paramref name="result"/>, [n].
    /// Squares the workspace's aˡ and δˡ in place (run <see cref="Curvature.Forward{T}"/> again before any product);
    /// <paramref name="inputScratch"/> takes x ⊙ x, at least [rows × inputs].</summary>
    public static void Compute<T>(NetworkSpec spec, ReadOnlySpan<T> x, CurvatureWorkspace<T> ws, Span<T> inputScratch,
        Span<T> result) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (!Supports(spec)) throw new NotSupportedException($"{spec}: per-sample squared gradients are formed for dense layers only");
        int rows = ws.Rows, count = spec.Layers.Count;
        if (x.Length != rows * spec.Inputs) Shapes.ThrowLengths("x", x.Length, "rows × inputs", rows * spec.Inputs);
        if (result.Length != spec.Layout.Count) Shapes.ThrowLengths("the result", result.Length, "the layout", spec.Layout.Count);
        var xx = inputScratch[..x.Length];
        TensorPrimitives.Multiply(x, x, xx);
        for (int l = 0; l < count - 1; l++)
        {
            var a = ws.Primal.A(l, rows);
            TensorPrimitives.Multiply(a, a, a);
        }
        T m = T.CreateChecked(rows);
        var layout = spec.Layout;
        for (int l = 0; l < count; l++)
        {
            var dense = (Dense)spec.Layers[l];
            int inputs = dense.Inputs, outputs = dense.Outputs, weights = inputs * outputs;
            var delta = ws.Primal.Delta(l, rows);
            TensorPrimitives.Multiply(delta, delta, delta);
            var block = result.Slice(layout.LayerOffset(l), layout.LayerLength(l));
            ReadOnlySpan<T> input = l == 0 ? xx : ws.Primal.A(l - 1, rows);
            Gemm.Multiply<T>(delta, true, input, false, block[..weights], outputs, inputs, rows, accumulate: false, ws.Primal.Threads);
            Equations.BiasGradient<T>(delta, block.Slice(weights, outputs));
            TensorPrimitives.Multiply(block, m, block);
        }
    }
}
