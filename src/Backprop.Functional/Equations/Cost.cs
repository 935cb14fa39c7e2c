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
        Shapes.RequireLength(y, rows, spec.Outputs, "targets");
        int last = spec.Layers.Count - 1;
        var cost = new LossCost<T>
        {
            Z = OutputZ(spec, ws, rows), A = ws.A(last, rows), Y = y, Width = spec.Outputs,
            Activation = spec.OutputActivation,
        };
        LossDispatch.Run(spec.Loss, ref cost);
        return cost.Sum;
    }

    private ref struct LossCost<T> : ILossAction where T : unmanaged, IFloatingPointIeee754<T>
    {
        public ReadOnlySpan<T> Z, A, Y;
        public int Width;
        public ActivationKind Activation;
        public T Sum;

        public void Invoke<TLoss>() where TLoss : struct, ILoss
        {
            var inner = new CostStep<TLoss, T> { Z = Z, A = A, Y = Y, Width = Width };
            ActivationDispatch.Run(Activation, ref inner);
            Sum = inner.Sum;
        }
    }

    private ref struct CostStep<TLoss, T> : IActivationAction
        where TLoss : struct, ILoss where T : unmanaged, IFloatingPointIeee754<T>
    {
        public ReadOnlySpan<T> Z, A, Y;
        public int Width;
        public T Sum;

        public void Invoke<TAct>() where TAct : struct, IActivation => Sum = TLoss.Cost<TAct, T>(Z, A, Y, Width);
    }
}
