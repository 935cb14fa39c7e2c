using Microsoft.CodeAnalysis;

namespace Backprop.Functional.Generators.Diagnostics;

/// <summary>The diagnostics of [Network] declarations. Ids are stable; see AnalyzerReleases.*.md.</summary>
internal static class Descriptors
{
    private const string Category = "Backprop.Functional";

    public static readonly DiagnosticDescriptor SizesDoNotChain = new(
        "BPF001", "Layer sizes do not chain",
        "Layer {0} takes {1} inputs but layer {2} outputs {3}; a layer's inputs must equal the previous layer's outputs",
        Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor NotStaticPartial = new(
        "BPF002", "Network type must be a non-generic static partial class",
        "'{0}' must be a non-generic 'static partial class' (and every enclosing type 'partial') so the generator can add Forward, Backward and TrainStep to it",
        Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor Unknown = new(
        "BPF003", "Unknown activation or loss",
        "'{0}' is not a known {1}: use one of the Backprop.Functional structs implementing {2}",
        Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor LossDoesNotFit = new(
        "BPF004", "Loss does not fit the output activation",
        "Loss {0} does not fit output activation {1}: {2}",
        Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor NonPositiveSize = new(
        "BPF005", "Layer size must be positive",
        "Layer {0} has {1} = {2}; every layer needs at least one input and one output",
        Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor NoLayers = new(
        "BPF006", "Network has no layers",
        "'{0}' has no layer attributes ([Dense], [Rnn], [Lstm], [Gru]); a network needs at least one",
        Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor KindNotGenerated = new(
        "BPF007", "Layer kind is not supported by generated networks",
        "Layer kind {0} is not supported by generated networks; build it at run time with NetworkSpec",
        Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor FitResultDiscarded = new(
        "BPF008", "The result of Trainer.Fit is discarded, so nothing trains",
        "The result of Trainer.Fit is discarded, so nothing trains: the run trains as it is read; enumerate it (foreach) or call Complete()",
        Category, DiagnosticSeverity.Warning, isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor UnknownOptimizer = new(
        "BPF009", "Unknown optimizer",
        "'{0}' is not an optimizer a generated network can call directly: use typeof(Sgd), typeof(Momentum), typeof(Adam), typeof(AdamW) or typeof(RmsProp), or pass any GradientTransform to TrainStep at run time",
        Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor ValueOutOfRange = new(
        "BPF010", "Declared value out of range",
        "{0} = {1} is out of range: it must be {2}",
        Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor NotTaken = new(
        "BPF011", "The optimizer does not take this property",
        "{0} does not take {1}; it takes {2}",
        Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor RecurrentAfterDense = new(
        "BPF012", "Recurrent layer after a dense layer",
        "Layer {0} ({1}) comes after dense layer {2}; recurrent layers come first, before every [Dense] layer (the last state feeds the dense head)",
        Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor NoDenseHead = new(
        "BPF013", "Recurrent network without a dense head",
        "Layer {0} ({1}) is the last layer; a generated recurrent network ends in at least one [Dense] layer that reads the last state",
        Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor RnnActivation = new(
        "BPF014", "An Rnn's activation is Tanh or ReLU",
        "Layer {0} (Rnn) has activation {1}; an Rnn's activation is typeof(Tanh) or typeof(ReLU), as torch.nn.RNN's nonlinearity",
        Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

    public static DiagnosticDescriptor ById(string id) => id switch
    {
        "BPF001" => SizesDoNotChain,
        "BPF002" => NotStaticPartial,
        "BPF003" => Unknown,
        "BPF004" => LossDoesNotFit,
        "BPF005" => NonPositiveSize,
        "BPF007" => KindNotGenerated,
        "BPF009" => UnknownOptimizer,
        "BPF010" => ValueOutOfRange,
        "BPF011" => NotTaken,
        "BPF012" => RecurrentAfterDense,
        "BPF013" => NoDenseHead,
        "BPF014" => RnnActivation,
        _ => NoLayers,
    };
}
