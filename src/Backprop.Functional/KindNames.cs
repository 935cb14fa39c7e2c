namespace Backprop.Functional;

// Compiled twice: into the library and, linked, into the [Network] generator (netstandard2.0), whose validation
// reads the same lists. Keep it plain: no crefs to library types, no newer BCL APIs. KindNamesTests ties it to
// ActivationKind, LossKind and LossDispatch.Fits.

/// <summary>The names of the activation and loss kinds, and which loss fits which output activation: the one list
/// the library and the source generator share.</summary>
internal static class KindNames
{
    /// <summary>The activation structs, in ActivationKind order; each name is also an ActivationKind member.</summary>
    public static readonly string[] Activations = { "Identity", "Sigmoid", "Tanh", "ReLU", "LeakyReLU", "Softplus", "GELU", "Softmax" };

    /// <summary>The loss structs, in LossKind order; each name is also a LossKind member.</summary>
    public static readonly string[] Losses = { "Quadratic", "CrossEntropy", "SoftmaxCrossEntropy" };

    /// <summary>Per loss (same order as <see cref="Losses"/>): the one output activation it fits, or null for any.</summary>
    private static readonly string?[] RequiredOutput = { null, "Sigmoid", "Softmax" };

    /// <summary>Whether <paramref name="loss"/> can train a network whose last layer has <paramref name="outputActivation"/>:
    /// CrossEntropy needs Sigmoid, SoftmaxCrossEntropy needs Softmax, Quadratic fits every output; an unknown loss fits nothing.</summary>
    public static bool Fits(string loss, string outputActivation)
    {
        int i = System.Array.IndexOf(Losses, loss);
        return i >= 0 && (RequiredOutput[i] is null || RequiredOutput[i] == outputActivation);
    }

    /// <summary>Why <paramref name="loss"/> does not fit its output, for messages of the form
    /// "loss L does not fit output activation A: {reason}".</summary>
    public static string Misfit(string loss) => loss switch
    {
        "CrossEntropy" => "binary cross-entropy reads each output as a probability; use a Sigmoid output",
        "SoftmaxCrossEntropy" => "categorical cross-entropy needs a Softmax output",
        _ => "choose another pair",
    };
}
