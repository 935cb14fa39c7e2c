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
        T cost = OutputDelta(spec, y, ws, rows);
        BackwardFrom(spec, theta, x, ws, spec.Layers.Count - 1, rows, gradient, parameterGradients: true);
        return cost;
    }

    /// <summary>The targets checked, then δᴸ by BP1 (or the cost's fused form) scaled by 1/m into the workspace;
    /// returns the batch's mean cost.</summary>
    private static T OutputDelta<T>(NetworkSpec spec, ReadOnlySpan<T> y, Workspace<T> ws, int rows)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        Shapes.RequireLength(y, rows, spec.Outputs, "targets");
        Shapes.RequireFinite(y, spec.Outputs, "targets");
        int last = spec.Layers.Count - 1;
        var output = new LossOutputError<T>
        {
            Z = OutputZ(spec, ws, rows), A = ws.A(last, rows), Y = y, Delta = ws.Delta(last, rows),
            Width = spec.Outputs, Activation = spec.OutputActivation,
        };
        LossDispatch.Run(spec.Loss, ref output);
        T inverseBatch = T.One / T.CreateChecked(rows);
        TensorPrimitives.Multiply(ws.Delta(last, rows), inverseBatch, ws.Delta(last, rows));
        return output.Cost * inverseBatch;
    }

    /// <summary>
    /// One online-learning step on one sample: <see cref="Forward{T}"/>, δᴸ and every δˡ (BP1, BP2), then each layer
    /// updated by <see cref="OuterProductUpdate"/> with ∂C/∂Wˡ = δˡ(aˡ⁻¹)ᵀ and ∂C/∂bˡ = δˡ formed inside the update
    /// (BP4, BP3), so ∂C/∂θ is never stored. Bit for bit (up to the sign of a zero) it is <see cref="Backward{T}"/>
    /// followed by the optimizer's update; on 784-32-10 with SGD it takes about two thirds of the time.
    /// </summary>
    /// <param name="spec">The network's layers and cost.</param>
    /// <param name="theta">θ, updated in place.</param>
    /// <param name="x">One sample, [inputs].</param>
    /// <param name="y">Its target, [outputs].</param>
    /// <param name="ws">A workspace for this network.</param>
    /// <param name="optimizer">A transform with a fused path (<see cref="OuterProductUpdate.Supports"/>: Sgd, Adam, AdamW, …).</param>
    /// <param name="state">The optimizer's step count; advanced by one when θ is updated.</param>
    /// <param name="buffers">The optimizer's moments for the whole θ.</param>
    /// <param name="learningRate">η for this step.</param>
    /// <returns>The sample's cost before the update. When it is NaN or infinite nothing is updated.</returns>
    /// <exception cref="ArgumentException">x is not one sample, a shape does not match, y holds NaN or infinity, or
    /// the optimizer has no fused update.</exception>
    public static T TrainOnline<T>(NetworkSpec spec, Span<T> theta, ReadOnlySpan<T> x, ReadOnlySpan<T> y, Workspace<T> ws,
        GradientTransform optimizer, ref OptimizerState state, OptimizerBuffers<T> buffers, double learningRate)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(optimizer);
        ArgumentNullException.ThrowIfNull(buffers);
        if (spec is { DenseOnly: false }) ThrowNotDense(spec);
        if (Check(spec, theta, x, ws) != 1)
            throw new ArgumentException($"an online step takes one sample of [{spec.Inputs}], but x has {x.Length} values ({x.Length / spec.Inputs} samples)", nameof(x));
        var update = OuterProductUpdate.For<T>(optimizer, state.Step + 1, learningRate);
        Forward(spec, theta, x, ws);
        T cost = OutputDelta(spec, y, ws, 1);
        if (!T.IsFinite(cost)) return cost;
        int top = spec.Layers.Count - 1;
        BackwardFrom(spec, theta, x, ws, top, 1, default, parameterGradients: false);
        var layout = spec.Layout;
        for (int l = 0; l <= top; l++)
        {
            if (spec.Layers[l] is not Dense d) continue;   // a kind without parameters (DenseOnly)
            update.Layer(theta, buffers, layout.Weight(l).Offset, d.Inputs, d.Outputs, ws.Delta(l, 1), l == 0 ? x : ws.A(l - 1, 1));
        }
        state = state with { Step = state.Step + 1 };
        return cost;
    }

    /// <summary>Given ∂C/∂y of layer <paramref name="top"/> in the workspace (δ of the last layer, the loss fused with
    /// its activation), each layer's Backward from <paramref name="top"/> down to 0: ∂C/∂x into the layer below's δ
    /// buffer and, when <paramref name="parameterGradients"/>, ∂C/∂θ into the layer's slice of
    /// <paramref name="gradient"/>. For dense layers the sequence is BP4, BP3, the product with Wˡ into δˡ⁻¹, then
    /// σ′ of layer l − 1 in place: BP2. One type test per layer, as in <see cref="ForwardFrom{T}"/>.</summary>
    internal static void BackwardFrom<T>(NetworkSpec spec, ReadOnlySpan<T> theta, ReadOnlySpan<T> x, Workspace<T> ws,
        int top, int rows, Span<T> gradient, bool parameterGradients) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var layout = spec.Layout;
        int last = spec.Layers.Count - 1;
        for (int l = top; l >= 0; l--)
        {
            var layer = spec.Layers[l];
            int offset = layout.LayerOffset(l), length = layout.LayerLength(l);
            var pass = new BackwardPass<T>
            {
                Theta = theta.Slice(offset, length),
                X = l == 0 ? x : ws.A(l - 1, rows),
                Y = ws.A(l, rows),
                Scratch = ws.Z(l, rows),
                DY = ws.Delta(l, rows),
                DX = l == 0 ? default : ws.Delta(l - 1, rows),
                DTheta = parameterGradients ? gradient.Slice(offset, length) : default,
                Rows = rows,
                Time = ws.Time,
                Threads = ws.Threads,
                DYIsDelta = l == last,
            };
            if (layer is Dense d) DenseKernel.Backward(d, in pass);
            else layer.Backward(in pass);
        }
    }

    /// <summary>zᴸ for the loss: the last layer's scratch when it keeps z (dense, or a kind declaring an output
    /// activation), else aᴸ (an Identity output: z = a).</summary>
    internal static Span<T> OutputZ<T>(NetworkSpec spec, Workspace<T> ws, int rows) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int last = spec.Layers.Count - 1;
        return spec.Layers[last] is Dense || spec.OutputActivation != ActivationKind.Identity ? ws.Z(last, rows) : ws.A(last, rows);
    }

    [System.Diagnostics.CodeAnalysis.DoesNotReturn]
    private static void ThrowNotDense(NetworkSpec spec)
    {
        for (int l = 0; l < spec.Layers.Count; l++)
            if (spec.Layers[l] is not Dense && spec.Layout.SlotsOf(l).Length > 0)
                throw new ArgumentException($"the fused online step updates dense layers only, but layer {l} ({spec.Layers[l].Kind}) has parameters; train this network with Trainer.Step, which takes the stored-gradient path for it", nameof(spec));
        throw new ArgumentException("the fused online step updates dense layers only", nameof(spec));
    }

    /// <summary>Loss dispatch, then activation dispatch, then TLoss.Cost&lt;TAct&gt; and TLoss.OutputError&lt;TAct&gt;.</summary>
    private ref struct LossOutputError<T> : ILossAction where T : unmanaged, IFloatingPointIeee754<T>
    {
        public ReadOnlySpan<T> Z, A, Y;
        public Span<T> Delta;
        public int Width;
        public ActivationKind Activation;
        public T Cost;

        public void Invoke<TLoss>() where TLoss : struct, ILoss
        {
            var inner = new OutputErrorStep<TLoss, T> { Z = Z, A = A, Y = Y, Delta = Delta, Width = Width };
            ActivationDispatch.Run(Activation, ref inner);
            Cost = inner.Cost;
        }
    }

    private ref struct OutputErrorStep<TLoss, T> : IActivationAction
        where TLoss : struct, ILoss where T : unmanaged, IFloatingPointIeee754<T>
    {
        public ReadOnlySpan<T> Z, A, Y;
        public Span<T> Delta;
        public int Width;
        public T Cost;

        public void Invoke<TAct>() where TAct : struct, IActivation
        {
            Cost = TLoss.Cost<TAct, T>(Z, A, Y, Width);
            TLoss.OutputError<TAct, T>(Z, A, Y, Delta, Width);
        }
    }
}
