using Backprop.Functional.Generators.Helpers;

namespace Backprop.Functional.Generators.Model;

/// <summary>Everything the emitter needs, as values only (no symbols, no syntax), so the incremental cache can
/// compare two runs by equality.</summary>
/// <param name="Namespace">The containing namespace, or <see langword="null"/> for the global namespace.</param>
/// <param name="TypeName">The [Network] class's name.</param>
/// <param name="ContainingTypes">Enclosing type declarations, outermost first, e.g. "partial class Outer".</param>
/// <param name="IsStaticPartial">Whether the type (and every enclosing type) can take a generated part.</param>
/// <param name="Loss">The library's loss struct name ("SoftmaxCrossEntropy"), or <see langword="null"/> if unknown.</param>
/// <param name="LossDisplay">What the user wrote, for messages.</param>
/// <param name="Layers">The [Dense] layers in declaration order.</param>
/// <param name="Initialization">The Initialization member's name ("PyTorch" when not set), or <see langword="null"/> for a
/// value that names none (BPF010).</param>
/// <param name="InitializationDisplay">What the user wrote, for messages.</param>
/// <param name="Seed">The seed of Initialize.</param>
/// <param name="Threads">The workspace's threads as written (validated later).</param>
/// <param name="Optimizer">The [Optimizer] declaration, or <see langword="null"/> when there is none.</param>
internal sealed record NetworkModel(
    string? Namespace,
    string TypeName,
    EquatableArray<string> ContainingTypes,
    bool IsStaticPartial,
    string? Loss,
    string LossDisplay,
    EquatableArray<LayerModel> Layers,
    string? Initialization = "PyTorch",
    string InitializationDisplay = "PyTorch",
    long Seed = 0,
    int Threads = 1,
    OptimizerModel? Optimizer = null)
{
    /// <summary>The type's name with its namespace and enclosing types, e.g. "Samples.MnistMlp".</summary>
    public string FullName
    {
        get
        {
            var name = Namespace is null ? "" : Namespace + ".";
            foreach (var declaration in ContainingTypes)
                name += declaration.Substring(declaration.LastIndexOf(' ') + 1) + ".";
            return name + TypeName;
        }
    }
}
