using System.Globalization;
using Spectre.Console;

namespace Backprop.Cli.Tests;

/// <summary>Runs the CLI in process against a non-interactive, colourless console and captures both streams.</summary>
internal static class Cli
{
    public sealed record Result(int ExitCode, string Out, string Error)
    {
        public override string ToString() => $"exit {ExitCode}\n--- stdout\n{Out}\n--- stderr\n{Error}";

        /// <summary>The number after "<paramref name="prefix"/>" on its own line, e.g. "test accuracy: 0.9781".</summary>
        public double Number(string prefix)
        {
            string line = Out.Split('\n').Select(l => l.TrimEnd('\r')).Single(l => l.StartsWith(prefix, StringComparison.Ordinal));
            return double.Parse(line[prefix.Length..].Trim(), CultureInfo.InvariantCulture);
        }
    }

    public static Result Run(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Ansi = AnsiSupport.No,
            ColorSystem = ColorSystemSupport.NoColors,
            Interactive = InteractionSupport.No,
            Out = new AnsiConsoleOutput(output),
        });
        int code = CliApp.Run(args, console, error);
        return new Result(code, output.ToString(), error.ToString());
    }
}

/// <summary>A fresh temporary folder, deleted on dispose.</summary>
internal sealed class TempDir : IDisposable
{
    public string Path { get; } = Directory.CreateTempSubdirectory("backprop-cli-tests-").FullName;

    public string this[string name] => System.IO.Path.Combine(Path, name);

    public void Dispose()
    {
        try { Directory.Delete(Path, recursive: true); } catch (IOException) { }
    }
}
