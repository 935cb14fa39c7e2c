using System.CommandLine;
using System.Globalization;
using Backprop.Functional;
using Spectre.Console;

namespace Backprop.Cli;

/// <summary><c>backprop eval --model m.safetensors [--data DIR | --csv FILE --label-column NAME]</c>: test-set
/// loss, accuracy and confusion matrix of a saved model.</summary>
internal static class EvalCommand
{
    public static Command Create(IAnsiConsole console)
    {
        var model = new Option<string>("--model") { Description = "Model file written by 'backprop train'", HelpName = "FILE", Required = true };
        var data = new Option<string>("--data") { Description = "MNIST folder [default: ~/.cache/backprop/mnist]", HelpName = "DIR" };
        var csv = new Option<string>("--csv") { Description = "Evaluate on a CSV file instead of the MNIST test set", HelpName = "FILE" };
        var label = new Option<string>("--label-column") { Description = "Name of the CSV label column", HelpName = "NAME" };
        var command = new Command("eval", "Test-set accuracy and confusion matrix of a saved model") { model, data, csv, label };
        command.SetAction(parse =>
        {
            string? csvPath = parse.GetValue(csv), labelName = parse.GetValue(label), dir = parse.GetValue(data);
            if (csvPath is not null && dir is not null) throw new UsageException("--data (MNIST) and --csv are alternatives; give one");
            if (csvPath is not null && labelName is null) throw new UsageException("--csv needs --label-column NAME");
            if (csvPath is null && labelName is not null) throw new UsageException("--label-column needs --csv FILE");
            return Run(parse.GetValue(model)!, csvPath is null ? DataSource.Mnist(dir) : new DataSource(null, csvPath, labelName, null, false), console);
        });
        return command;
    }

    public static int Run(string modelPath, DataSource source, IAnsiConsole console)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(console);
        using var network = ModelLoading.Load(modelPath);
        var test = source.IsCsv
            ? DataLoading.LoadCsv(source.Csv!, source, network.Spec.Outputs)
            : DataLoading.MnistTest(source.MnistDir);
        ModelLoading.RequireFits(network, test, modelPath);
        var evaluation = Trainer.Evaluate(network, test);
        if (evaluation.NonFinite is { } where)
            throw new CliException(string.Create(CultureInfo.InvariantCulture,
                $"{modelPath} on {test.Name}: {where}, so its test loss ({evaluation.Loss}) and accuracy mean nothing (its weights overflow on that input)"));
        console.Line(string.Create(CultureInfo.InvariantCulture, $"{network.Spec} on {test.Name} ({test.Count:N0} samples)"));
        console.Line(string.Create(CultureInfo.InvariantCulture, $"test loss: {evaluation.Loss:F4}"));
        console.Line(Report.Accuracy(evaluation.Accuracy));
        console.Write(Report.Confusion(evaluation));
        return ExitCodes.Ok;
    }
}

/// <summary>Opening a model file for the commands that use one.</summary>
internal static class ModelLoading
{
    public static Network<float> Load(string path) => LoadWithMetadata(path).ToNetwork();

    public static LoadedModel<float> LoadWithMetadata(string path)
    {
        if (!File.Exists(path)) throw new CliException($"{path}: no such model file");
        return ModelFile.Load(path);
    }

    public static void RequireFits(Network<float> network, Dataset data, string modelPath)
    {
        bool sequences = network.Spec.Layers[0].Input.IsSequence;   // a sample is whole steps of the first layer's inputs
        if ((sequences ? data.Features % network.Spec.Inputs != 0 : data.Features != network.Spec.Inputs) || data.Outputs != network.Spec.Outputs)
            throw new CliException(string.Create(CultureInfo.InvariantCulture,
                $"{modelPath} maps {network.Spec.Inputs} → {network.Spec.Outputs} but {data.Name} has {data.Features} features and {data.Outputs} classes"));
    }
}
