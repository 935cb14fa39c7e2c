using System.CommandLine;
using Backprop.Functional;
using Spectre.Console;

namespace Backprop.Cli;

/// <summary>Exit codes of the <c>backprop</c> command.</summary>
internal static class ExitCodes
{
    public const int Ok = 0;

    /// <summary>A file is missing or malformed, the data does not fit the network, training blew up.</summary>
    public const int Failure = 1;

    /// <summary>The command line is wrong: unknown option, bad value, missing argument.</summary>
    public const int Usage = 2;
}

/// <summary>A bad command line found after parsing (a value System.CommandLine cannot check): exit code 2.</summary>
internal sealed class UsageException(string message) : Exception(message);

/// <summary>Builds the command tree and maps outcomes to exit codes: parse errors 2, expected failures 1 with one
/// line on stderr, success 0.</summary>
internal static class CliApp
{
    public static RootCommand BuildRoot(IAnsiConsole console)
    {
        var root = new RootCommand("backprop: train, evaluate and run multilayer perceptrons (Backprop.Functional)")
        {
            TrainCommand.Create(console),
            EvalCommand.Create(console),
            PredictCommand.Create(console),
            GradFlowCommand.Create(console),
            GradCheckCommand.Create(console),
            DiagnoseCommand.Create(console),
            CharModel.SampleCommand(console),
            OptimizerRace.Create(console),
            OdeDemoCommand.Create(console),
            OnnxCommands.Export(console),
            OnnxCommands.Import(console),
        };
        return root;
    }

    /// <summary>Parses and runs <paramref name="args"/>; normal output goes to <paramref name="console"/>,
    /// error lines to <paramref name="error"/>.</summary>
    public static int Run(string[] args, IAnsiConsole console, TextWriter error)
    {
        ArgumentNullException.ThrowIfNull(error);
        var root = BuildRoot(console);
        ParseResult parse = root.Parse(args);
        if (parse.Errors.Count > 0 && parse.CommandResult.Command == root)
        {
            error.WriteLine($"backprop: {NoCommand(parse, root)}");
            return ExitCodes.Usage;
        }

        if (parse.Errors.Count > 0)
        {
            foreach (var e in parse.Errors) error.WriteLine($"backprop: {Readable(OneLine(e.Message))}");
            error.WriteLine("Run 'backprop --help' (or 'backprop <command> --help') for usage.");
            return ExitCodes.Usage;
        }

        try
        {
            return parse.Invoke(new InvocationConfiguration
            {
                Output = console.Profile.Out.Writer,
                Error = error,
                EnableDefaultExceptionHandler = false,
            });
        }
        catch (UsageException e)
        {
            error.WriteLine($"backprop: {e.Message}");
            return ExitCodes.Usage;
        }
        catch (Exception e) when (IsExpected(e))
        {
            error.WriteLine($"backprop: {OneLine(e.Message)}");
            return ExitCodes.Failure;
        }
    }

    /// <summary>One line for a command line that names no known command (System.CommandLine reports two errors:
    /// the unknown word and the missing command).</summary>
    private static string NoCommand(ParseResult parse, RootCommand root)
    {
        string commands = $"the commands are {string.Join(", ", root.Subcommands.Select(c => c.Name))} (see 'backprop --help')";
        string? word = parse.UnmatchedTokens.Count > 0 ? parse.UnmatchedTokens[0] : null;
        return word switch
        {
            null => $"no command given; {commands}",
            _ when word.StartsWith('-') => $"unknown option '{word}' before a command; {commands}",
            _ => $"unknown command '{word}'; {commands}",
        };
    }

    /// <summary>Failures a user can cause and fix: they get one line, not a stack trace.</summary>
    private static bool IsExpected(Exception e) => e is IOException or InvalidDataException or ArgumentException
        or TrainingDivergedException or InvalidOperationException or UnauthorizedAccessException or NotSupportedException
        or CliException or OdeStepLimitException;

    /// <summary>System.CommandLine names the expected type by its CLR name ("System.Nullable`1[System.Int32]"); say it in words.</summary>
    private static string Readable(string message) => message
        .Replace("as expected type 'System.Nullable`1[System.Int32]'", "as a whole number", StringComparison.Ordinal)
        .Replace("as expected type 'System.Nullable`1[System.Int64]'", "as a whole number", StringComparison.Ordinal)
        .Replace("as expected type 'System.Nullable`1[System.Double]'", "as a number", StringComparison.Ordinal)
        .Replace("as expected type 'System.Int32'", "as a whole number", StringComparison.Ordinal)
        .Replace("as expected type 'System.Double'", "as a number", StringComparison.Ordinal);

    private static string OneLine(string message) => message.ReplaceLineEndings(" ").Replace('\t', ' ').Replace("  ", " ", StringComparison.Ordinal).Trim();
}

/// <summary>An expected failure found by the CLI itself (exit code 1).</summary>
internal sealed class CliException(string message) : Exception(message);
