using Backprop.Functional.Generators.Helpers;

namespace Backprop.Functional.Generators.Model;

/// <summary>One property set on [Optimizer(…)]: its name, its value as a C# literal, and as a number (bools 1 or 0).</summary>
internal sealed record HyperParameterModel(string Name, string Literal, double Value);

/// <summary>The declared optimizer as read from source: the record's name when it is one the generator can call
/// directly, what the user wrote, and the properties set, in source order.</summary>
/// <param name="Kind">"Sgd", "Momentum", "Adam", "AdamW" or "RmsProp"; <see langword="null"/> for anything else (BPF009).</param>
/// <param name="Display">What the user wrote, for messages.</param>
/// <param name="Arguments">The named properties set.</param>
internal sealed record OptimizerModel(string? Kind, string Display, EquatableArray<HyperParameterModel> Arguments)
{
    /// <summary>The optimizers the generator calls directly, each with the [Optimizer] properties it takes.</summary>
    public static readonly (string Kind, string[] Takes)[] Known =
    {
        ("Sgd", new[] { "LearningRate", "WeightDecay" }),
        ("Momentum", new[] { "LearningRate", "WeightDecay", "Mu", "Dampening" }),
        ("Adam", new[] { "LearningRate", "WeightDecay", "Beta1", "Beta2", "Epsilon", "Amsgrad" }),
        ("AdamW", new[] { "LearningRate", "WeightDecay", "Beta1", "Beta2", "Epsilon", "Amsgrad" }),
        ("RmsProp", new[] { "LearningRate", "WeightDecay", "Alpha", "Epsilon", "Mu", "Centered" }),
    };

    /// <summary>Whether the runtime's one-sample fused update (OuterProductUpdate) takes this optimizer.</summary>
    public bool Fuses => Kind is "Sgd" or "Adam" or "AdamW";

    /// <summary>Whether the generated TrainOnline runs its own Adam loops for it (Adam without AMSGrad).</summary>
    public bool OwnAdam
    {
        get
        {
            if (Kind != "Adam") return false;
            foreach (var a in Arguments)
                if (a.Name == "Amsgrad" && a.Value != 0) return false;
            return true;
        }
    }
}
