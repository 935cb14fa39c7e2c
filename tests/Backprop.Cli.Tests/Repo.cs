namespace Backprop.Cli.Tests;

/// <summary>The repository's root folder (the one holding Backprop.Functional.sln), found from the test binary's folder.</summary>
internal static class Repo
{
    public static string Root { get; } = Find();

    public static string File(string relative) => Path.Combine(Root, relative);

    private static string Find()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (System.IO.File.Exists(Path.Combine(dir.FullName, "Backprop.Functional.sln"))) return dir.FullName;
        throw new InvalidOperationException($"no Backprop.Functional.sln above {AppContext.BaseDirectory}");
    }
}
