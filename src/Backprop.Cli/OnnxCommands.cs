using System.CommandLine;
using System.Globalization;
using Backprop.Functional;
using Spectre.Console;

namespace Backprop.Cli;

/// <summary><c>backprop export --model m.safetensors --onnx m.onnx</c> writes a model file as an ONNX graph;
/// <c>backprop import --onnx m.onnx --model m.safetensors [--loss L]</c> reads a dense ONNX model (e.g. PyTorch's
/// export) into a model file.</summary>
internal static class OnnxCommands
{
    public static Command Export(IAnsiConsole console)
    {
        var model = new Option<string>("--model") { Description = "Model file written by 'backprop train'", HelpName = "FILE", Required = true };
        var onnx = new Option<string>("--onnx") { Description = $"ONNX file to write (opset {OnnxFile.Opset}, input \"{OnnxFile.InputName}\", output \"{OnnxFile.OutputName}\")", HelpName = "FILE", Required = true };
        var command = new Command("export", "Write a model of dense and recurrent (rnn, lstm, gru) layers as an ONNX graph, for ONNX Runtime and other ONNX consumers") { model, onnx };
        command.SetAction(parse => RunExport(parse.GetValue(model)!, parse.GetValue(onnx)!, console));
        return command;
    }

    public static Command Import(IAnsiConsole console)
    {
        var onnx = new Option<string>("--onnx") { Description = "ONNX model of dense layers (Gemm or MatMul + Add, activations), e.g. from torch.onnx.export", HelpName = "FILE", Required = true };
        var model = new Option<string>("--model") { Description = "Model file to write (safetensors)", HelpName = "FILE", Required = true };
        var loss = new Option<string>("--loss") { Description = $"Cost: {Names.List(Names.Losses)} [default: the file's, else softmax-ce for a softmax output, else quadratic]", HelpName = "LOSS" }.AcceptOnlyFromAmong(Names.Losses);
        var command = new Command("import", "Read a dense ONNX model into a model file") { onnx, model, loss };
        command.SetAction(parse => RunImport(parse.GetValue(onnx)!, parse.GetValue(model)!, parse.GetValue(loss) is { } l ? Names.Loss(l) : null, console));
        return command;
    }

    public static int RunExport(string modelPath, string onnxPath, IAnsiConsole console)
    {
        var loaded = ModelLoading.LoadWithMetadata(modelPath);
        if (!OnnxFile.CanSave(loaded.Spec, out string reason))
            throw new CliException($"{modelPath}: {loaded.Spec} cannot be exported to ONNX: {reason}");
        Target(onnxPath, "--onnx");
        OnnxFile.Save<float>(onnxPath, loaded.Spec, loaded.Parameters);
        console.Line(string.Create(CultureInfo.InvariantCulture,
            $"wrote {onnxPath} ({new FileInfo(onnxPath).Length:N0} bytes): {loaded.Spec}, ONNX opset {OnnxFile.Opset}, input \"{OnnxFile.InputName}\" {OnnxExport.ShapeText(loaded.Spec.Layers[0].Input)}, output \"{OnnxFile.OutputName}\" {OnnxExport.ShapeText(loaded.Spec.Layers[^1].Output)}"));
        return ExitCodes.Ok;
    }

    public static int RunImport(string onnxPath, string modelPath, LossKind? loss, IAnsiConsole console)
    {
        if (!File.Exists(onnxPath)) throw new CliException($"{onnxPath}: no such ONNX file");
        LoadedModel<float> model;
        try
        {
            model = OnnxFile.Load(onnxPath, loss);
        }
        catch (ArgumentException e) when (loss is { } given && e.ParamName == "loss")
        {
            // the file is fine; the command line asked for a cost its output cannot take: a usage error (exit 2)
            throw new UsageException($"--loss {Names.Of(given)}: {e.Message.Split(" (Parameter")[0]}");
        }
        Target(modelPath, "--model");
        ModelFile.Save<float>(modelPath, model.Spec, model.Parameters, model.Metadata);
        console.Line(string.Create(CultureInfo.InvariantCulture,
            $"wrote {modelPath}: {model.Spec} ({model.Spec.Layout.Count:N0} parameters) from {model.Metadata["onnx.producer"]}, opset {model.Metadata["onnx.opset"]}"));
        return ExitCodes.Ok;
    }

    /// <summary>The output must name a file in a folder that exists (the library writes through a temporary next to it).</summary>
    private static void Target(string path, string option)
    {
        if (Directory.Exists(path) || Path.EndsInDirectorySeparator(path))
            throw new CliException($"{option} {path}: is a folder; give a file name");
        string? folder = Path.GetDirectoryName(Path.GetFullPath(path));
        if (folder is null || !Directory.Exists(folder))
            throw new CliException($"{option} {path}: the folder {folder} does not exist");
    }
}
