using System.Diagnostics;
using System.Text.RegularExpressions;
using Xunit;

namespace Backprop.Cli.Tests;

/// <summary>Files of the repository that the CLI's documentation relies on: the sample digit, the ignore list, and
/// the measured figures that docs/cli.md and the README quote.</summary>
public partial class RepoFilesTests
{
    /// <summary>The layer protocol's proof kind lives in the test project only: the core runs it without knowing it.</summary>
    [Fact]
    public void No_source_file_of_the_library_mentions_the_test_only_Scale_kind()
    {
        var mentions = Directory.EnumerateFiles(Repo.File("src"), "*.cs", SearchOption.AllDirectories)
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}", StringComparison.Ordinal))
            .Where(f => Regex.IsMatch(File.ReadAllText(f), @"\bScale(Kernel)?\b"))
            .ToList();
        Assert.Empty(mentions);
        Assert.True(File.Exists(Repo.File("tests/Backprop.Functional.Tests/Layers/Scale.cs")));
    }

    [Fact]
    public void Sample_digit_is_a_small_mnist_style_image()
    {
        string path = Repo.File("samples/digit.png");
        Assert.True(File.Exists(path), path);
        Assert.True(new FileInfo(path).Length < 4096, $"{path} is {new FileInfo(path).Length} bytes");
        float[] x = ImageInput.Load(path, invert: false);
        Assert.Equal(28 * 28, x.Length);
        Assert.True(x.Max() > 0.9f, "no white stroke");
        Assert.True(x.Average() < 0.3f, "not white on black");
        Assert.True(x.Count(v => v > 0.5f) > 40, "too few stroke pixels for a digit");
    }

    [Fact]
    public void Every_image_the_cli_docs_pass_to_predict_exists_from_the_repo_root()
    {
        foreach (string doc in new[] { "docs/cli.md", "README.md" })
        {
            string text = File.ReadAllText(Repo.File(doc));
            foreach (Match m in ImageArgument().Matches(text))
                Assert.True(File.Exists(Repo.File(m.Groups[1].Value)), $"{doc} passes --image {m.Groups[1].Value}, which is not in the repository");
        }

        Assert.Matches(ImageArgument(), File.ReadAllText(Repo.File("docs/cli.md")));
    }

    [Theory]
    [InlineData("model.safetensors", true)]
    [InlineData("model.safetensors.png", true)]
    [InlineData("model.safetensors.svg", true)]
    [InlineData("model.safetensors.html", true)]
    [InlineData("out/blobs.safetensors.png", true)]
    [InlineData("model.safetensors.tmp-1234-abcdefgh.xyz", true)]
    [InlineData("samples/digit.png", false)]
    public void Gitignore_covers_what_train_writes_and_not_the_sample(string path, bool ignored)
    {
        var start = new ProcessStartInfo("git") { WorkingDirectory = Repo.Root, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string a in new[] { "check-ignore", "--no-index", "-q", path }) start.ArgumentList.Add(a);
        using var git = Process.Start(start)!;
        git.WaitForExit();
        Assert.True(git.ExitCode is 0 or 1, $"git check-ignore failed: {git.StandardError.ReadToEnd()}");
        Assert.True((git.ExitCode == 0) == ignored, $"{path} is {(git.ExitCode == 0 ? "" : "not ")}ignored");
    }

    /// <summary>scripts/cli-figures.sh writes the marked blocks; a hand edit that makes them disagree fails here.</summary>
    [Fact]
    public void Readme_and_cli_docs_quote_the_same_measured_figures()
    {
        string cli = File.ReadAllText(Repo.File("docs/cli.md")), readme = File.ReadAllText(Repo.File("README.md"));
        string table = Block(cli, "docs/cli.md", "table"), output = Block(cli, "docs/cli.md", "output"), sentence = Block(readme, "README.md", "readme");

        string[] quoted = [.. Accuracy().Matches(sentence).Select(m => m.Value)];
        Assert.Equal(3, quoted.Length);
        foreach (string a in quoted) Assert.Contains(a, table, StringComparison.Ordinal);

        string final = Regex.Match(output, @"^test accuracy: (0\.\d{4})$", RegexOptions.Multiline).Groups[1].Value;
        Assert.Equal(quoted[0], final);
        Assert.Contains($"epoch 5/5 ", output, StringComparison.Ordinal);
        Assert.Contains($"test accuracy {final}", output, StringComparison.Ordinal);
    }

    private static string Block(string text, string file, string name)
    {
        var m = Regex.Match(text, $@"<!-- cli-figures:{name} -->(.*?)<!-- /cli-figures:{name} -->", RegexOptions.Singleline);
        Assert.True(m.Success, $"{file} has no block marked cli-figures:{name}");
        return m.Groups[1].Value;
    }

    [GeneratedRegex(@"--image ([\w./-]+\.png)")]
    private static partial Regex ImageArgument();

    [GeneratedRegex(@"\b0\.\d{4}\b")]
    private static partial Regex Accuracy();
}
