using System.Numerics;

namespace Backprop.Functional;

public static partial class Equations
{
    /// <summary>Σₓ Cₓ, the summed cost of the batch from the last layer's zᴸ and aᴸ in the workspace (after
    /// <see cref="Forward{T}"/> on the same rows): the cost's <see cref="ILoss.Cost{TAct, T}"/> with the output
    /// activation as TAct, so fused pairs are costed from the logits.</summary>
    internal static T Cost<T>(NetworkSpec spec, ReadOnlySpan<T> y, Workspace<T> ws, int rows)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var positions = LossPositions.Of(spec, ws, rows);
        Shapes.RequireLength(y, positions.Count, spec.Outputs, "targets");
        int last = spec.Layers.Count - 1;
        var cost = new LossCost<T>
        {
            Z = OutputZ(spec, ws, rows), A = ws.A(last, rows), Y = y, Width = spec.Outputs,
            Activation = spec.OutputActivation, Positions = positions,
        };
        LossDispatch.Run(spec.Loss, ref cost);
        return cost.Sum;
    }

    /// <summary>The mean cost over the positions the loss counts (rows; for a per-step output, the rows' unpadded steps
    /// from <see cref="Workspace{T}.LossFrom"/> on), after <see cref="Forward{T}"/>: the value <see cref="Backward{T}"/>
    /// returns.</summary>
    internal static T MeanCost<T>(NetworkSpec spec, ReadOnlySpan<T> y, Workspace<T> ws, int rows)
        where T : unmanaged, IFloatingPointIeee754<T> =>
        Cost(spec, y, ws, rows) * (T.One / T.CreateChecked(Math.Max(LossPositions.Of(spec, ws, rows).Counted, 1)));

    private ref struct LossCost<T> : ILossAction where T : unmanaged, IFloatingPointIeee754<T>
    {
        public ReadOnlySpan<T> Z, A, Y;
        public int Width;
        public ActivationKind Activation;
        public LossPositions Positions;
        public T Sum;

        public void Invoke<TLoss>() where TLoss : struct, ILoss
        {
            var inner = new CostStep<TLoss, T> { Z = Z, A = A, Y = Y, Width = Width, Positions = Positions };
            ActivationDispatch.Run(Activation, ref inner);
            Sum = inner.Sum;
        }
    }

    private ref struct CostStep<TLoss, T> : IActivationAction
        where TLoss : struct, ILoss where T : unmanaged, IFloatingPointIeee754<T>
    {
        public ReadOnlySpan<T> Z, A, Y;
        public int Width;
        public LossPositions Positions;
        public T Sum;

        public void Invoke<TAct>() where TAct : struct, IActivation
        {
            if (!Positions.Masked)
            {
                Sum = TLoss.Cost<TAct, T>(Z, A, Y, Width);
                return;
            }
            Sum = T.Zero;
            for (int r = 0; r < Positions.Rows; r++)
            {
                var (start, length) = Positions.Run(r);
                if (length > 0) Sum += TLoss.Cost<TAct, T>(Z.Slice(start * Width, length * Width), A.Slice(start * Width, length * Width), Y.Slice(start * Width, length * Width), Width);
            }
        }
    }
}
