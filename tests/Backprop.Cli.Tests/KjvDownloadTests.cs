using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using Backprop.Functional;
using Xunit;

namespace Backprop.Cli.Tests;

/// <summary>The KJV text from Debian's <c>bible-kjv-text</c>: the EC02 decoder on files written here, the checks that
/// refuse a partial or foreign text before anything is cached, a fake package through <c>dpkg-deb</c>, and the real
/// fetch where apt can reach Debian.</summary>
public sealed class KjvDownloadTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("backprop-kjv-download-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>Verses with long repeats (the KwKwK case: "aaaa…"), enough text for the code width to grow past 9 bits.</summary>
    private static byte[] SampleText(int verses)
    {
        var rng = new Random(5);
        var text = new StringBuilder("Holy Bible, a test edition.\n");
        string[] words = ["and", "the", "LORD", "said", "unto", "Moses,", "behold;", "aaaaaaaaaaaaaaaaaaaaa", "it", "was", "good."];
        for (int v = 1; v <= verses; v++)
        {
            text.Append("Ge1:").Append(v).Append(' ');
            for (int w = rng.Next(3, 25); w > 0; w--) text.Append(words[rng.Next(words.Length)]).Append(w == 1 ? ".\n" : " ");
        }

        return Encoding.ASCII.GetBytes(text.ToString());
    }

    private static KjvDownload.ExpectedText Expect(byte[] text) =>
        new(text.Length, Encoding.ASCII.GetString(text)[..Encoding.ASCII.GetString(text).IndexOf('\n')], Convert.ToHexStringLower(SHA256.HashData(text)));

    [Theory]
    [InlineData(16, 4096)]   // the package's settings, in smaller windows: widths 9 → 12
    [InlineData(10, 5000)]   // a 1024-entry table fills up: CLEAR and back to 9 bits, several times per window
    [InlineData(9, 700)]     // the width never grows: maxcode is the whole table at once
    public void Decode_returns_the_text_of_every_window(int maxBits, int window)
    {
        byte[] text = SampleText(400);
        byte[] file = Ec02Writer.Write(text, window, maxBits);

        byte[] decoded = BibleDataFile.Decode(file, "test.data");

        Assert.True(text.Length > 3 * window, "several windows, the last one short");
        Assert.Equal(Encoding.ASCII.GetString(text), Encoding.ASCII.GetString(decoded));
    }

    [Fact]
    public void Decode_refuses_a_file_that_is_not_EC02_naming_it()
    {
        byte[] file = Ec02Writer.Write(SampleText(20), 512);

        var magic = Assert.Throws<InvalidDataException>(() => BibleDataFile.Decode("PK\u0003\u0004 not a bible"u8.ToArray(), "x.data"));
        file[3] = (byte)'1';
        var version = Assert.Throws<InvalidDataException>(() => BibleDataFile.Decode(file, "x.data"));

        Assert.StartsWith("x.data: not a Bible Retrieval System text file", magic.Message, StringComparison.Ordinal);
        Assert.Contains("file structure version \"01\", expected \"02\"", version.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Decode_refuses_a_truncated_file_and_a_huge_header_before_allocating()
    {
        byte[] file = Ec02Writer.Write(SampleText(50), 512);

        var truncated = Assert.Throws<InvalidDataException>(() => BibleDataFile.Decode(file.AsSpan(0, file.Length - 10), "x.data"));
        var header = Assert.Throws<InvalidDataException>(() => BibleDataFile.Decode(file.AsSpan(0, 100), "x.data"));
        var huge = (byte[])file.Clone();
        huge[88] = 0x7F;   // 2³¹ windows
        var tooLarge = Assert.Throws<InvalidDataException>(() => BibleDataFile.Decode(huge, "x.data"));

        Assert.Contains("window offset", truncated.Message, StringComparison.Ordinal);
        Assert.EndsWith($"… {file.Length - 10}", truncated.Message, StringComparison.Ordinal);
        Assert.Contains("the table of", header.Message, StringComparison.Ordinal);
        Assert.Contains("at most 67108864 bytes of text are decoded", tooLarge.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Decode_refuses_a_window_of_the_wrong_size()
    {
        byte[] text = SampleText(50);
        byte[] file = Ec02Writer.Write(text, 512);
        byte[] claimsMore = (byte[])file.Clone();
        claimsMore[86] = 0x04;   // window size 512 → 1024: the windows (but the last) decode short
        byte[] claimsLess = (byte[])file.Clone();
        claimsLess[86] = 0x01;   // 512 → 256: the first window decodes past it

        var shortWindow = Assert.Throws<InvalidDataException>(() => BibleDataFile.Decode(claimsMore, "x.data"));
        var longWindow = Assert.Throws<InvalidDataException>(() => BibleDataFile.Decode(claimsLess, "x.data"));

        Assert.Contains("window 0 decompresses to 512 bytes, expected 1024", shortWindow.Message, StringComparison.Ordinal);
        Assert.Contains("window 0 is corrupt: it decompresses past 256 bytes", longWindow.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Decode_refuses_a_code_past_the_table()
    {
        byte[] file = Ec02Writer.Write(SampleText(5), 4096);
        int first = 4 + 80 + 8 + 8 + 3;   // one window: two offsets, then the compress header
        file[first + 1] |= 0xFE;          // the second code (bits 9–17): 9 ones give 511, far past the table's 257 entries
        file[first + 2] |= 0x03;

        var e = Assert.Throws<InvalidDataException>(() => BibleDataFile.Decode(file, "x.data"));

        Assert.Contains("window 0 is corrupt: code", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Problem_names_the_size_the_first_line_and_the_hash_in_turn()
    {
        byte[] text = SampleText(30);
        var expected = Expect(text);
        byte[] otherTitle = (byte[])text.Clone();
        otherTitle[0] = (byte)'J';
        byte[] otherVerse = (byte[])text.Clone();
        otherVerse[^5] ^= 0x20;

        Assert.Null(KjvDownload.Problem(text, expected));
        Assert.Equal($"{text.Length - 1} bytes, expected {text.Length} (partial or corrupt)", KjvDownload.Problem(text.AsSpan(1), expected));
        Assert.Equal("its first line is \"Joly Bible, a test edition.\", expected \"Holy Bible, a test edition.\"", KjvDownload.Problem(otherTitle, expected));
        Assert.StartsWith("its SHA-256 is ", KjvDownload.Problem(otherVerse, expected), StringComparison.Ordinal);
        Assert.EndsWith($"expected {expected.Sha256} (corrupt)", KjvDownload.Problem(otherVerse, expected), StringComparison.Ordinal);
    }

    [Fact]
    public void Store_replaces_the_file_whole_and_leaves_no_temporary()
    {
        string cache = Path.Combine(_dir, "cache");

        string path = KjvDownload.Store("old text\n"u8, cache);
        KjvDownload.Store("new text\n"u8, cache);

        Assert.Equal(Path.Combine(cache, KjvDownload.FileName), path);
        Assert.Equal("new text\n", File.ReadAllText(path));
        Assert.Equal([path], Directory.GetFiles(cache));
    }

    [Fact]
    public void Require_names_the_cache_file_the_script_and_the_package()
    {
        string cache = Path.Combine(_dir, "cache");

        var e = Assert.Throws<FileNotFoundException>(() => KjvDownload.Require(null, cache));
        var given = Assert.Throws<FileNotFoundException>(() => KjvDownload.Require(Path.Combine(_dir, "mine.txt"), cache));

        Assert.StartsWith(Path.Combine(cache, "kjv.txt") + ": the KJV text is not cached.", e.Message, StringComparison.Ordinal);
        Assert.Contains("scripts/fetch-kjv.sh " + cache, e.Message, StringComparison.Ordinal);
        Assert.Contains("bible-kjv-text", e.Message, StringComparison.Ordinal);
        Assert.Contains("mine.txt: no such text file", given.Message, StringComparison.Ordinal);
        File.WriteAllText(Path.Combine(_dir, "mine.txt"), "my own text");
        Assert.Equal(Path.Combine(_dir, "mine.txt"), KjvDownload.Require(Path.Combine(_dir, "mine.txt"), cache));
    }

    [Fact]
    public void Locate_takes_a_cached_file_of_the_right_size_only()
    {
        string cache = Path.Combine(_dir, "cache");
        Directory.CreateDirectory(cache);
        File.WriteAllBytes(Path.Combine(cache, KjvDownload.FileName), new byte[1000]);
        Assert.Null(KjvDownload.Locate(null, cache));

        File.WriteAllBytes(Path.Combine(cache, KjvDownload.FileName), new byte[KjvDownload.Kjv.Bytes]);
        Assert.Equal(Path.Combine(cache, KjvDownload.FileName), KjvDownload.Locate(null, cache));
    }

    /// <summary>A package built here with dpkg-deb: the text inside is found, decoded, checked and cached; a package whose
    /// text differs, or that lacks the data file, leaves the cache empty.</summary>
    [SkippableFact]
    public void Install_a_fake_package_caches_its_text_and_refuses_a_wrong_one()
    {
        Skip.If(!OnPath("dpkg-deb"), "dpkg-deb is not installed (not a Debian-based system)");
        byte[] text = SampleText(300);
        string deb = FakePackage("good", Ec02Writer.Write(text, 4096));
        string cache = Path.Combine(_dir, "cache");

        string path = KjvDownload.Install(deb, Path.Combine(_dir, "x1"), cache, Expect(text));

        Assert.Equal(text, File.ReadAllBytes(path));
        Assert.Equal([path], Directory.GetFiles(cache));

        string emptyCache = Path.Combine(_dir, "cache2");
        var wrong = Assert.Throws<InvalidDataException>(() => KjvDownload.Install(deb, Path.Combine(_dir, "x2"), emptyCache, KjvDownload.Kjv));
        Assert.Contains($"bible-kjv-text decoded to a text that is not the expected one: {text.Length} bytes, expected 4404475", wrong.Message, StringComparison.Ordinal);
        Assert.False(Directory.Exists(emptyCache) && Directory.EnumerateFileSystemEntries(emptyCache).Any(), "the refused text was written");

        string empty = FakePackage("empty", data: null);
        var missing = Assert.Throws<InvalidDataException>(() => KjvDownload.Install(empty, Path.Combine(_dir, "x3"), emptyCache, Expect(text)));
        Assert.Contains("has no usr/lib/bible.data", missing.Message, StringComparison.Ordinal);
    }

    /// <summary>The real thing, where apt can fetch from Debian: about 2.4 MB, a few seconds.</summary>
    [SkippableFact]
    public void Fetch_from_Debian_caches_the_KJV_text()
    {
        Skip.If(!OnPath("apt-get") || !OnPath("dpkg-deb"), "apt-get and dpkg-deb are not installed (not a Debian-based system)");
        string policy = Output("apt-cache", "policy", KjvDownload.DebianPackage);
        Skip.If(!policy.Contains("Candidate:", StringComparison.Ordinal) || policy.Contains("Candidate: (none)", StringComparison.Ordinal),
            $"apt knows no candidate for {KjvDownload.DebianPackage} (no Debian package lists: run 'apt-get update')");
        string cache = Path.Combine(_dir, "cache");
        var log = new StringWriter();

        string path = KjvDownload.Fetch(cache, log);
        string again = KjvDownload.Fetch(cache, log);

        Assert.Equal(path, again);
        Assert.Contains("KJV text already in", log.ToString(), StringComparison.Ordinal);
        Assert.Equal(4_404_475, new FileInfo(path).Length);
        string[] lines = File.ReadLines(path).Take(2).ToArray();
        Assert.Equal(["Holy Bible, Authorized (King James) Version.  Textfile 930105.", "Ge1:1 In the beginning God created the heaven and the earth."], lines);
        var corpus = CharCorpus.Load(path);
        Assert.Equal(73, corpus.VocabularySize);
        Assert.Equal(31_103, File.ReadLines(path).Count());
        Assert.Equal([path], Directory.GetFiles(cache));
    }

    private string FakePackage(string name, byte[]? data)
    {
        string root = Path.Combine(_dir, "pkg-" + name);
        Directory.CreateDirectory(Path.Combine(root, "DEBIAN"));
        File.WriteAllText(Path.Combine(root, "DEBIAN", "control"),
            "Package: bible-kjv-text\nVersion: 0.1\nArchitecture: all\nMaintainer: test <test@example.invalid>\nDescription: a fake for tests\n");
        Directory.CreateDirectory(Path.Combine(root, "usr", "lib"));
        if (data is not null) File.WriteAllBytes(Path.Combine(root, "usr", "lib", "bible.data"), data);
        string deb = Path.Combine(_dir, name + ".deb");
        Output("dpkg-deb", "--root-owner-group", "--build", root, deb);
        return deb;
    }

    private static bool OnPath(string tool) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator).Any(d => d.Length > 0 && File.Exists(Path.Combine(d, tool)));

    private static string Output(string tool, params string[] args)
    {
        var start = new ProcessStartInfo(tool) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string a in args) start.ArgumentList.Add(a);
        using var p = Process.Start(start)!;
        Task<string> err = p.StandardError.ReadToEndAsync();
        string output = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        Assert.True(p.ExitCode == 0, $"{tool} {string.Join(' ', args)} exited with {p.ExitCode}: {err.Result}");
        return output;
    }
}
