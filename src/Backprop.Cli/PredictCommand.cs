using System.CommandLine;
using System.Globalization;
using Backprop.Functional;
using Spectre.Console;

namespace Backprop.Cli;

/// <summary><c>backprop predict --model m.safetensors (--image digit.png [--invert] | --idx-index N [--data DIR])</c>:
/// the predicted class and the output probabilities for one input.</summary>
internal static class PredictCommand
{
    public static Command Create(IAnsiConsole console)
    {
        var model = new Option<string>("--model") { Description = "Model file written by 'backprop train'", HelpName = "FILE", Required = true };
        var image = new Option<string>("--image") { Description = "A 28×28 grayscale image (PNG, JPEG …; resized if another size), white digit on black as in MNIST", HelpName = "FILE" };
        var invert = new Option<bool>("--invert") { Description = "The image is a dark digit on a light background: invert it first" };
        var index = new Option<int?>("--idx-index") { Description = "Index of an image of the MNIST test set (0-based)", HelpName = "N" };
        var data = new Option<string>("--data") { Description = "MNIST folder for --idx-index [default: ~/.cache/backprop/mnist]", HelpName = "DIR" };
        var command = new Command("predict", "Predict the class of one image") { model, image, invert, index, data };
        command.SetAction(parse =>
        {
            string? imagePath = parse.GetValue(image);
            int? n = parse.GetValue(index);
            if ((imagePath is null) == (n is null)) throw new UsageException("give exactly one of --image FILE and --idx-index N");
            if (imagePath is not null && parse.GetValue(data) is not null) throw new UsageException("--data applies to --idx-index, not --image");
            if (n is not null && parse.GetValue(invert)) throw new UsageException("--invert applies to --image, not --idx-index");
            return imagePath is not null
                ? RunImage(parse.GetValue(model)!, imagePath, parse.GetValue(invert), console)
                : RunIndex(parse.GetValue(model)!, n!.Value, parse.GetValue(data), console);
        });
        return command;
    }

    public static int RunImage(string modelPath, string imagePath, bool invert, IAnsiConsole console)
    {
        using var network = ModelLoading.Load(modelPath);
        float[] x = ImageInput.Load(imagePath, invert);
        if (network.Spec.Layers[0].Input.IsSequence ? x.Length % network.Spec.Inputs != 0 : network.Spec.Inputs != x.Length)
            throw new CliException(string.Create(CultureInfo.InvariantCulture, $"{modelPath} takes {network.Spec.Inputs} inputs, not a 28×28 image ({x.Length})"));
        Print(network, x, null, console);
        return ExitCodes.Ok;
    }

    public static int RunIndex(string modelPath, int index, string? dataDir, IAnsiConsole console)
    {
        using var network = ModelLoading.Load(modelPath);
        var test = DataLoading.MnistTest(dataDir);
        if (index < 0 || index >= test.Count)
            throw new UsageException(string.Create(CultureInfo.InvariantCulture, $"--idx-index {index} is outside the test set's 0..{test.Count - 1}"));
        ModelLoading.RequireFits(network, test, modelPath);
        Print(network, test.X.AsSpan(index * test.Features, test.Features), test.Labels?[index], console);
        return ExitCodes.Ok;
    }

    private static void Print(Network<float> network, ReadOnlySpan<float> x, int? label, IAnsiConsole console)
    {
        using var ws = network.CreateWorkspace(1);
        float[] a = network.Forward(x, ws).ToArray();
        int predicted = Trainer.ClassOf<float>(a);
        var output = network.Spec.OutputActivation;
        bool isDistribution = output == ActivationKind.Softmax;
        double sum = isDistribution ? 1 : a.Sum(v => Math.Max(0, v));
        var inv = CultureInfo.InvariantCulture;
        console.Line(label is { } l
            ? string.Create(inv, $"predicted: {predicted}  (label {l})")
            : string.Create(inv, $"predicted: {predicted}"));
        if (!isDistribution)
            console.Line($"probabilities: {Names.Of(output)} outputs normalised to sum to 1");
        for (int k = 0; k < a.Length; k++)
        {
            double p = sum > 0 ? Math.Max(0, a[k]) / sum : 0;
            console.Line(string.Create(inv, $"{k,3}  {p:F4}{(k == predicted ? "  ←" : "")}"));
        }
    }
}
