namespace Backprop.Functional;

/// <summary>Work to run with a loss's operator struct as a type argument.</summary>
internal interface ILossAction
{
    void Invoke<TLoss>() where TLoss : struct, ILoss;
}

/// <summary>The one place a runtime <see cref="LossKind"/> becomes a closed generic call.</summary>
internal static class LossDispatch
{
    public static void Run<TAction>(LossKind kind, scoped ref TAction action) where TAction : ILossAction, allows ref struct
    {
        switch (kind)
        {
            case LossKind.Quadratic: action.Invoke<Quadratic>(); break;
            case LossKind.CrossEntropy: action.Invoke<CrossEntropy>(); break;
            case LossKind.SoftmaxCrossEntropy: action.Invoke<SoftmaxCrossEntropy>(); break;
            default: Shapes.ThrowUnknown(kind); break;
        }
    }

    public static bool Fits(LossKind loss, ActivationKind output) => loss switch
    {
        LossKind.Quadratic => Quadratic.Fits(output),
        LossKind.CrossEntropy => CrossEntropy.Fits(output),
        LossKind.SoftmaxCrossEntropy => SoftmaxCrossEntropy.Fits(output),
        _ => false,
    };
}
