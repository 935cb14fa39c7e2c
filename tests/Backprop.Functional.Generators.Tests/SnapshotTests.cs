using System.Runtime.CompilerServices;
using Xunit;

namespace Backprop.Functional.Generators.Tests;

/// <summary>The emitted text, exactly. Refresh with <c>UPDATE_SNAPSHOTS=1 dotnet test</c> and review the diff.</summary>
public sealed class SnapshotTests
{
    [Theory]
    [InlineData("MnistMlp", Sources.MnistMlp)]
    [InlineData("Tiny", Sources.Tiny)]
    [InlineData("Mix", Sources.Mix)]
    [InlineData("Declared", Sources.Declared)]
    [InlineData("Recurrent", Sources.Recurrent)]
    public void Generated_source_matches_snapshot(string name, string source)
    {
        var result = GeneratorHarness.Run(source);
        Assert.Empty(result.Exceptions);
        var generated = Assert.Single(result.Generated);
        string path = Path.Combine(Folder(), "Snapshots", name + ".g.cs");
        if (Environment.GetEnvironmentVariable("UPDATE_SNAPSHOTS") == "1")
            File.WriteAllText(path, generated);
        Assert.True(File.Exists(path), $"no snapshot {path}; run with UPDATE_SNAPSHOTS=1 to create it");
        Assert.Equal(File.ReadAllText(path).ReplaceLineEndings("\n"), generated);
    }

    private static string Folder([CallerFilePath] string path = "") => Path.GetDirectoryName(path)!;
}
