namespace Backprop.Functional;

/// <summary>Work to run with an activation's operator struct as a type argument.</summary>
internal interface IActivationAction
{
    void Invoke<TAct>() where TAct : struct, IActivation;
}

/// <summary>The one place a runtime <see cref="ActivationKind"/> becomes a closed generic call: one switch, once
/// per layer per batch, each arm an instantiation the AOT compiler can see (no reflection).</summary>
internal static class ActivationDispatch
{
    public static void Run<TAction>(ActivationKind kind, scoped ref TAction action)
        where TAction : IActivationAction, allows ref struct
    {
        switch (kind)
        {
            case ActivationKind.Identity: action.Invoke<Identity>(); break;
            case ActivationKind.Sigmoid: action.Invoke<Sigmoid>(); break;
            case ActivationKind.Tanh: action.Invoke<Tanh>(); break;
            case ActivationKind.ReLU: action.Invoke<ReLU>(); break;
            case ActivationKind.LeakyReLU: action.Invoke<LeakyReLU>(); break;
            case ActivationKind.Softplus: action.Invoke<Softplus>(); break;
            case ActivationKind.GELU: action.Invoke<GELU>(); break;
            case ActivationKind.Softmax: action.Invoke<Softmax>(); break;
            default: Shapes.ThrowUnknown(kind); break;
        }
    }
}
