using System.Globalization;
using System.Text.RegularExpressions;
using Backprop.Functional;
using Xunit;

namespace Backprop.Cli.Tests;

/// <summary>What the command line says about itself: help, unknown commands, the thread limit.</summary>
public partial class CommandLineTests
{
    public static TheoryData<string, string[]> ChoiceOptions => new()
    {
        { "--preset", Preset.Names },
        { "--hidden", Names.HiddenActivations },
        { "--output", Names.Activations },
        { "--loss", Names.Losses },
        { "--optimizer", Names.Optimizers },
        { "--init", Names.Inits },
        { "--schedule", Names.Schedules },
    };

    [Theory]
    [MemberData(nameof(ChoiceOptions))]
    public void Train_help_lists_every_allowed_value_on_the_options_line(string option, string[] values)
    {
        var r = Cli.Run("train", "--help");
        Assert.Equal(0, r.ExitCode);
        // The option's entry: its line and the wrapped continuation lines under it, joined.
        string[] lines = r.Out.ReplaceLineEndings("\n").Split('\n');
        int first = Array.FindIndex(lines, l => l.TrimStart().StartsWith(option + " ", StringComparison.Ordinal));
        Assert.True(first >= 0, r.Out);
        string entry = lines[first];
        for (int k = first + 1; k < lines.Length && lines[k].StartsWith("    ", StringComparison.Ordinal) && !lines[k].TrimStart().StartsWith('-'); k++)
            entry += " " + lines[k].Trim();
        foreach (string v in values)
            Assert.True(Regex.IsMatch(entry, $@"(?<![\w-]){Regex.Escape(v)}(?![\w-])"), $"{option} help does not list '{v}': {entry}");
    }

    [Theory]
    [InlineData("frobnicate")]
    [InlineData("frobnicate", "--epochs", "3")]
    [InlineData("tarin")]
    public void Unknown_command_is_one_line_naming_it_and_the_commands(params string[] args)
    {
        var r = Cli.Run(args);
        Assert.True(r.ExitCode == 2, r.ToString());
        Assert.Single(r.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith($"backprop: unknown command '{args[0]}'", r.Error, StringComparison.Ordinal);
        foreach (string command in new[] { "train", "eval", "predict" }) Assert.Contains(command, r.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void No_command_is_one_line_naming_the_commands()
    {
        var r = Cli.Run();
        Assert.True(r.ExitCode == 2, r.ToString());
        Assert.Single(r.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains("train, eval, predict", r.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void Threads_above_the_core_count_are_a_usage_error_that_says_the_count()
    {
        int cores = Environment.ProcessorCount;
        string tooMany = (cores + 1).ToString(CultureInfo.InvariantCulture);
        var e = Assert.Throws<UsageException>(() => TrainCommand.Parse("--threads", tooMany));
        Assert.Contains($"--threads {tooMany}", e.Message, StringComparison.Ordinal);
        Assert.Contains($"{cores} core", e.Message, StringComparison.Ordinal);

        var r = Cli.Run("train", "--threads", "1000");
        Assert.True(r.ExitCode == 2, r.ToString());
        Assert.Contains($"{cores} core", r.Error, StringComparison.Ordinal);
        Assert.Single(r.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries));

        Assert.Equal(cores, TrainCommand.Parse("--threads", cores.ToString(CultureInfo.InvariantCulture)).Threads);
    }
}
