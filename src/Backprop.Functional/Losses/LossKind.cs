namespace Backprop.Functional;

/// <summary>The losses a runtime <see cref="Network{T}"/> can use; each maps to one operator struct.</summary>
public enum LossKind
{
    /// <summary><see cref="Backprop.Functional.Quadratic"/>: C = ½‖y − a‖².</summary>
    Quadratic,
    /// <summary><see cref="Backprop.Functional.CrossEntropy"/>: binary, per output; costed from the logits of its sigmoid output.</summary>
    CrossEntropy,
    /// <summary><see cref="Backprop.Functional.SoftmaxCrossEntropy"/>: categorical, C = −Σ y ln a, costed from the logits as
    /// −Σ yⱼ(zⱼ − LSE(z)).</summary>
    SoftmaxCrossEntropy,
}
