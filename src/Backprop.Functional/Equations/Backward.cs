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
        if (gradient.Length != theta.Length) Shapes.ThrowLengths("gradient", gradient.Length, "theta", theta.Length);
        T cost = OutputDelta(spec, y, ws, rows);
        StepProbe.Phase(StepProbe.Loss, 15);
        BackwardFrom(spec, theta, x, ws, spec.Layers.Count - 1, rows, gradient, parameterGradients: true);
        return cost;
    }

    /// <summary>The targets checked, then δᴸ by BP1 (or the cost's fused form) scaled by 1/m into the workspace;
    /// returns the batch's mean cost.</summary>
    internal static T OutputDelta<T>(NetworkSpec spec, ReadOnlySpan<T> y, Workspace<T> ws, int rows)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var positions = LossPositions.Of(spec, ws, rows);
        Shapes.RequireLength(y, positions.Count, spec.Outputs, "targets");
        Shapes.RequireFinite(y, spec.Outputs, "targets");
        int last = spec.Layers.Count - 1;
        var output = new LossOutputError<T>
        {
            Z = OutputZ(spec, ws, rows), A = ws.A(last, rows), Y = y, Delta = ws.Delta(last, rows),
            Width = spec.Outputs, Positions = positions, Activation = spec.OutputActivation,
        };
        LossDispatch.Run(spec.Loss, ref output);
        return output.Cost;
    }

    /// <summary>BP1 for a batch, the one place the 1/m of a mean cost lives: C = (1/m) Σₓ Cₓ by TLoss's cost of the
    /// logits, δᴸ = ∇ₐC ⊙ σ′(zᴸ) (or the cost's fused form), then δᴸ scaled by 1/m in place. The runtime's backward pass
    /// and every generated network's call it.</summary>
    /// <typeparam name="TLoss">The cost.</typeparam>
    /// <typeparam name="TAct">The output activation.</typeparam>
    /// <typeparam name="T">The element type.</typeparam>
    /// <param name="z">zᴸ, [rows × width].</param>
    /// <param name="a">aᴸ, [rows × width].</param>
    /// <param name="y">Targets, [rows × width].</param>
    /// <param name="delta">δᴸ, written, [rows × width].</param>
    /// <param name="width">Width of the output layer.</param>
    /// <param name="rows">m, the rows of the batch.</param>
    /// <returns>The batch's mean cost.</returns>
    public static T OutputDelta<TLoss, TAct, T>(ReadOnlySpan<T> z, ReadOnlySpan<T> a, ReadOnlySpan<T> y, Span<T> delta, int width, int rows)
        where TLoss : struct, ILoss where TAct : struct, IActivation where T : unmanaged, IFloatingPointIeee754<T>
    {
        T cost = TLoss.Cost<TAct, T>(z, a, y, width);
        TLoss.OutputError<TAct, T>(z, a, y, delta, width);
        T inverseBatch = T.One / T.CreateChecked(rows);
        TensorPrimitives.Multiply(delta, inverseBatch, delta);
        return cost * inverseBatch;
    }

    /// <summary>Every δˡ without ∂C/∂θ, after <see cref="Forward{T}"/> on the same x: δᴸ scaled by 1/m, then BP2 from
    /// the last layer down; for an update that forms each layer's ∂C/∂θ itself (<see cref="TrainingStep"/>'s fused step).</summary>
    /// <returns>The batch's mean cost.</returns>
    internal static T Deltas<T>(NetworkSpec spec, ReadOnlySpan<T> theta, ReadOnlySpan<T> x, ReadOnlySpan<T> y, Workspace<T> ws)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int rows = Check(spec, theta, x, ws);
        T cost = OutputDelta(spec, y, ws, rows);
        if (T.IsFinite(cost)) BackwardFrom(spec, theta, x, ws, spec.Layers.Count - 1, rows, default, parameterGradients: false);
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
        var none = default(NoLayerDone);
        BackwardFrom(spec, theta, x, ws, top, rows, gradient, parameterGradients, ref none);
    }

    /// <summary>What runs after each layer's backward pass (<see cref="BackwardFrom{T, TDone}"/>): that layer's ∂C/∂θ is
    /// final, and the pass reads its slice of θ no more (a layer's backward pass reads only its own slice).</summary>
    internal interface ILayerDone
    {
        /// <summary>Layer <paramref name="layer"/>'s backward pass has ended; its parameters are
        /// [<paramref name="offset"/>, <paramref name="offset"/> + <paramref name="length"/>) of θ.</summary>
        void Done(int layer, int offset, int length);
    }

    private struct NoLayerDone : ILayerDone
    {
        public readonly void Done(int layer, int offset, int length) { }
    }

    /// <summary><see cref="BackwardFrom{T}"/> with <paramref name="done"/> called after each layer.</summary>
    internal static void BackwardFrom<T, TDone>(NetworkSpec spec, ReadOnlySpan<T> theta, ReadOnlySpan<T> x, Workspace<T> ws,
        int top, int rows, Span<T> gradient, bool parameterGradients, ref TDone done)
        where T : unmanaged, IFloatingPointIeee754<T> where TDone : ILayerDone, allows ref struct
    {
        var layout = spec.Layout;
        int last = spec.Layers.Count - 1;
        var lengths = ws.Lengths(rows);
        for (int l = top; l >= 0; l--)
        {
            var layer = spec.Layers[l];
            if (StepProbe.Recording) StepProbe.CurrentLayer = l;
            int offset = layout.LayerOffset(l), length = layout.LayerLength(l);
            var pass = new BackwardPass<T>
            {
                Theta = theta.Slice(offset, length),
                X = l == 0 ? x : ws.A(l - 1, rows),
                Y = ws.A(l, rows),
                Scratch = ws.Z(l, rows),
                LayerScratch = ws.LayerScratch(l),
                DY = ws.Delta(l, rows),
                DX = l == 0 ? default : ws.Delta(l - 1, rows),
                DTheta = parameterGradients ? gradient.Slice(offset, length) : default,
                Rows = rows,
                Time = ws.Time,
                Lengths = lengths,
                Threads = ws.Threads,
                Plans = ws.Plans(l),
                DYIsDelta = l == last,
            };
            if (layer is Dense d) DenseKernel.Backward(d, in pass);
            else layer.Backward(in pass);
            done.Done(l, offset, length);
        }
    }

    /// <summary>zᴸ for the loss: the last layer's scratch when it keeps z (dense, or a kind declaring an output
    /// activation), else aᴸ (an Identity output: z = a).</summary>
    internal static Span<T> OutputZ<T>(NetworkSpec spec, Workspace<T> ws, int rows) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int last = spec.Layers.Count - 1;
        return spec.Layers[last] is Dense || spec.OutputActivation != ActivationKind.Identity ? ws.Z(last, rows) : ws.A(last, rows);
    }

    /// <summary>Loss dispatch, then activation dispatch, then TLoss.Cost&lt;TAct&gt; and TLoss.OutputError&lt;TAct&gt;.</summary>
    private ref struct LossOutputError<T> : ILossAction where T : unmanaged, IFloatingPointIeee754<T>
    {
        public ReadOnlySpan<T> Z, A, Y;
        public Span<T> Delta;
        public int Width;
        public LossPositions Positions;
        public ActivationKind Activation;
        public T Cost;

        public void Invoke<TLoss>() where TLoss : struct, ILoss
        {
            var inner = new OutputErrorStep<TLoss, T> { Z = Z, A = A, Y = Y, Delta = Delta, Width = Width, Positions = Positions };
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
        public LossPositions Positions;
        public T Cost;

        public void Invoke<TAct>() where TAct : struct, IActivation
        {
            if (!Positions.Masked)
            {
                Cost = OutputDelta<TLoss, TAct, T>(Z, A, Y, Delta, Width, Positions.Count);
                return;
            }
            // A per-step loss with padding or a truncation window: each counted run of positions costed and
            // differentiated as a batch of its own, the rest of δ zero, then the mean over the counted positions.
            Delta.Clear();
            T sum = T.Zero;
            int counted = 0;
            for (int r = 0; r < Positions.Rows; r++)
            {
                var (start, length) = Positions.Run(r);
                if (length == 0) continue;
                int s = start * Width, n = length * Width;
                sum += TLoss.Cost<TAct, T>(Z.Slice(s, n), A.Slice(s, n), Y.Slice(s, n), Width);
                TLoss.OutputError<TAct, T>(Z.Slice(s, n), A.Slice(s, n), Y.Slice(s, n), Delta.Slice(s, n), Width);
                counted += length;
            }
            T inverse = T.One / T.CreateChecked(Math.Max(counted, 1));
            TensorPrimitives.Multiply(Delta, inverse, Delta);
            Cost = sum * inverse;
        }
    }
}
