using System.Numerics;
using System.Numerics.Tensors;

namespace Backprop.Functional;

public static partial class Equations
{
    /// <summary>The backward pass of a network, after <see cref="Forward{T}"/> on the same x: δᴸ by BP1 (or the
    /// fused form of the cost), scaled by 1/m so that C is the batch mean (the only place the 1/m appears), then
    /// for l = L … 1: ∂C/∂Wˡ by BP4, ∂C/∂bˡ by BP3 and δˡ⁻¹ by BP2.</summary>
    /// <param name="spec">The network's layers and cost.</param>
    /// <param name="theta">θ, as passed to <see cref="Forward{T}"/>.</param>
    /// <param name="x">Inputs, [batch × inputs], as passed to <see cref="Forward{T}"/>.</param>
    /// <param name="y">Targets, [batch × outputs].</param>
    /// <param name="ws">The workspace holding the forward pass.</param>
    /// <param name="gradient">∂C/∂θ, written, in <see cref="NetworkSpec.Layout"/>.</param>
    /// <returns>C = (1/m) Σₓ Cₓ, the batch's mean cost.</returns>
    /// <exception cref="ArgumentException">A shape does not match, or y holds NaN or infinity.</exception>
    public static T Backward<T>(NetworkSpec spec, ReadOnlySpan<T> theta, ReadOnlySpan<T> x, ReadOnlySpan<T> y,
        Workspace<T> ws, Span<T> gradient) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int rows = Check(spec, theta, x, ws);
        Shapes.RequireLength(y, rows, spec.Outputs, "targets");
        if (gradient.Length != theta.Length) Shapes.ThrowLengths("gradient", gradient.Length, "theta", theta.Length);
        Shapes.RequireFinite(y, spec.Outputs, "targets");
        int last = spec.Layers.Count - 1;
        var output = new LossOutputError<T>
        {
            Z = ws.Z(last, rows), A = ws.A(last, rows), Y = y, Delta = ws.Delta(last, rows),
            Width = spec.Outputs, Activation = ((Dense)spec.Layers[last]).Activation,
        };
        LossDispatch.Run(spec.Loss, ref output);
        T inverseBatch = T.One / T.CreateChecked(rows);
        TensorPrimitives.Multiply(ws.Delta(last, rows), inverseBatch, ws.Delta(last, rows));
        BackwardFrom(spec, theta, x, ws, last, rows, gradient);
        return output.Cost * inverseBatch;
    }

    /// <summary>Given δ of layer <paramref name="top"/> in the workspace, the gradients of layers
    /// <paramref name="top"/> … 0 and the δ of every layer below.</summary>
    internal static void BackwardFrom<T>(NetworkSpec spec, ReadOnlySpan<T> theta, ReadOnlySpan<T> x, Workspace<T> ws,
        int top, int rows, Span<T> gradient) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var layout = spec.Layout;
        for (int l = top; l >= 0; l--)
        {
            var d = (Dense)spec.Layers[l];
            var delta = ws.Delta(l, rows);
            WeightGradient(delta, l == 0 ? x : ws.A(l - 1, rows), layout.Weight(l).Of(gradient), d.Inputs, d.Outputs, ws.Threads);
            BiasGradient<T>(delta, layout.Bias(l).Of(gradient));
            if (l == 0) break;
            var hidden = new HiddenErrorStep<T>
            {
                WeightNext = layout.Weight(l).Of(theta), DeltaNext = delta,
                Z = ws.Z(l - 1, rows), A = ws.A(l - 1, rows), Delta = ws.Delta(l - 1, rows),
                Width = d.Inputs, OutputsNext = d.Outputs, Threads = ws.Threads,
            };
            ActivationDispatch.Run(((Dense)spec.Layers[l - 1]).Activation, ref hidden);
        }
    }

    private ref struct HiddenErrorStep<T> : IActivationAction where T : unmanaged, IFloatingPointIeee754<T>
    {
        public ReadOnlySpan<T> WeightNext, DeltaNext, Z, A;
        public Span<T> Delta;
        public int Width, OutputsNext, Threads;

        public readonly void Invoke<TAct>() where TAct : struct, IActivation =>
            HiddenError<TAct, T>(WeightNext, DeltaNext, Z, A, Delta, Width, OutputsNext, Threads);
    }

    /// <summary>Loss dispatch, then activation dispatch, then TLoss.OutputError&lt;TAct&gt;; also the summed cost.</summary>
    private ref struct LossOutputError<T> : ILossAction where T : unmanaged, IFloatingPointIeee754<T>
    {
        public ReadOnlySpan<T> Z, A, Y;
        public Span<T> Delta;
        public int Width;
        public ActivationKind Activation;
        public T Cost;

        public void Invoke<TLoss>() where TLoss : struct, ILoss
        {
            Cost = TLoss.Cost(A, Y);
            var inner = new OutputErrorStep<TLoss, T> { Z = Z, A = A, Y = Y, Delta = Delta, Width = Width };
            ActivationDispatch.Run(Activation, ref inner);
        }
    }

    private ref struct OutputErrorStep<TLoss, T> : IActivationAction
        where TLoss : struct, ILoss where T : unmanaged, IFloatingPointIeee754<T>
    {
        public ReadOnlySpan<T> Z, A, Y;
        public Span<T> Delta;
        public int Width;

        public readonly void Invoke<TAct>() where TAct : struct, IActivation =>
            TLoss.OutputError<TAct, T>(Z, A, Y, Delta, Width);
    }
}
