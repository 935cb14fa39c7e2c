using System.Diagnostics;
using System.Text.Json;
using System.Text.RegularExpressions;
using Backprop.Functional;
using SkiaSharp;
using Xunit;

namespace Backprop.Cli.Tests;

/// <summary>The HTML report <c>backprop train</c> writes next to its model: self-contained (images as data URIs, no
/// external resource), and checked where it matters, in a browser: headless Chromium renders it, a small script
/// added to a copy writes what the page actually shows (each image decoded and its natural size, each table's
/// rendered rows) into the DOM, and the screenshot must not be blank.</summary>
public partial class HtmlReportTests
{
    private const string Chromium = "/usr/bin/chromium";

    private static Evaluation Eval(double loss, double accuracy, int k)
    {
        var confusion = new int[k * k];
        for (int i = 0; i < k; i++)
            for (int j = 0; j < k; j++) confusion[i * k + j] = i == j ? 90 + i : (i + 2 * j) % 4;
        return new Evaluation(loss, accuracy, confusion, k);
    }

    private static EpochResult[] Epochs(int k) =>
    [
        new(1, 0.9, Eval(0.7, 0.81, k), 50_000, TimeSpan.FromSeconds(1.2)),
        new(2, 0.5, Eval(0.45, 0.88, k), 60_000, TimeSpan.FromSeconds(1.0)),
        new(3, 0.3, Eval(0.36, 0.91, k), 61_000, TimeSpan.FromSeconds(1.0)),
    ];

    /// <summary>Synthetic per-layer figures: gradient norms falling by 10× per layer towards the input, as in a deep
    /// sigmoid network, and saturation rising over the epochs.</summary>
    private static ReportDiagnostics Diagnostics() => new(
        ["layer 1 (6-5)", "layer 2 (5-5)", "layer 3 (5-4)"],
        [[1e-4, 1e-3, 1e-2], [2e-4, 2e-3, 1.5e-2], [3e-4, 2.5e-3, 1.2e-2]],
        [[0.1, 0.05, 0.0], [0.2, 0.1, 0.05], [0.35, 0.15, 0.05]]);

    private static ReportInput Input(ReportDiagnostics? diagnostics) => new(
        "6-5(Sigmoid)-5(Sigmoid)-4(Softmax) <SoftmaxCrossEntropy> & co",
        [("network", "6-5-5-4"), ("optimizer", "sgd(lr=0.5)"), ("batch", "10"), ("seed", "0")],
        Epochs(4), Classification: true, "test", diagnostics);

    private static Func<ScottPlot.Plot, int, int, byte[]> NoSkia => (_, _, _) => throw new DllNotFoundException("libSkiaSharp");

    [Fact]
    public void The_report_holds_configuration_epochs_confusion_and_every_plot_as_a_data_uri()
    {
        string html = HtmlReport.Render(Input(Diagnostics()));
        Assert.Equal(4, ImgTag().Count(html));   // loss, accuracy, gradient flow, saturation
        Assert.All(ImgTag().Matches(html), m => Assert.StartsWith("data:image/png;base64,iVBORw0KGgo", m.Groups[1].Value, StringComparison.Ordinal));
        foreach (string id in (string[])["configuration", "epochs", "confusion", "loss", "accuracy", "gradient-flow", "saturation"])
            Assert.Contains($"id=\"{id}\"", html, StringComparison.Ordinal);
        Assert.Contains("&lt;SoftmaxCrossEntropy&gt; &amp; co", html, StringComparison.Ordinal);   // escaped
        Assert.DoesNotMatch(@"(src|href)=""(http|//)", html);                                      // nothing fetched
        Assert.DoesNotContain("<script", html, StringComparison.Ordinal);

        string plain = HtmlReport.Render(Input(null));
        Assert.Equal(2, ImgTag().Count(plain));
        Assert.DoesNotContain("id=\"gradient-flow\"", plain, StringComparison.Ordinal);
    }

    [Fact]
    public void Without_Skia_the_plots_are_inline_svg()
    {
        string html = HtmlReport.Render(Input(Diagnostics()), NoSkia);
        Assert.Empty(ImgTag().Matches(html));
        Assert.Equal(4, Regex.Count(html, "<svg[ >]"));
    }

    [Fact]
    public void Diagnostics_with_a_row_of_the_wrong_length_are_refused()
    {
        var d = Diagnostics() with { SaturatedFractions = [[0.1, 0.2]] };
        Assert.Contains("2 values", Assert.Throws<ArgumentException>(() => HtmlReport.Render(Input(d))).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_failed_render_leaves_the_previous_report()
    {
        using var dir = new TempDir();
        string model = dir["m.safetensors"];
        File.WriteAllText(model + ".html", "previous");
        Assert.Throws<IOException>(() => HtmlReport.Write(model, Input(null), (_, _, _) => throw new IOException("disk full")));
        Assert.Equal("previous", File.ReadAllText(model + ".html"));
        Assert.Equal([model + ".html"], Directory.GetFiles(dir.Path));
    }

    [Fact]
    public void Train_writes_the_report_next_to_the_model()
    {
        using var dir = new TempDir();
        SyntheticData.Blobs(dir["b.csv"], 30, seed: 1);
        var r = Cli.Run("train", "--csv", dir["b.csv"], "--label-column", "label", "--layers", "2-8-3", "--epochs", "2", "--out", dir["m.safetensors"]);
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Contains($"report saved to {dir["m.safetensors.html"]}", r.Out, StringComparison.Ordinal);
        string html = File.ReadAllText(dir["m.safetensors.html"]);
        Assert.Contains("2-8(ReLU)-3(Softmax)", html, StringComparison.Ordinal);
        Assert.Equal(2, ImgTag().Count(html) + Regex.Count(html, "<svg[ >]"));
        Assert.Equal(2 + 1, Regex.Count(Between(html, "id=\"epochs\"", "</table>"), "<tr>"));
        Assert.Equal(3 + 1, Regex.Count(Between(html, "id=\"confusion\"", "</table>"), "<tr>"));
    }

    [Fact]
    public void A_report_that_cannot_be_written_is_a_warning_and_the_run_succeeds()
    {
        using var dir = new TempDir();
        SyntheticData.Blobs(dir["b.csv"], 20, seed: 1);
        Directory.CreateDirectory(dir["m.safetensors.html"]);   // the report's name is taken by a folder
        var r = Cli.Run("train", "--csv", dir["b.csv"], "--label-column", "label", "--layers", "2-4-3", "--epochs", "1", "--out", dir["m.safetensors"]);
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.True(File.Exists(dir["m.safetensors"]));
        Assert.StartsWith("backprop: warning: could not write the report ", r.Error, StringComparison.Ordinal);
        Assert.Contains("model was saved", r.Error, StringComparison.Ordinal);
        Assert.Single(r.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }

    /// <summary>What the browser made of the page: images decoded with their natural sizes, inline SVGs' rendered
    /// widths, each table's rendered rows and height; written into the DOM by a script added to a copy of the report.</summary>
    private const string Probe = """
        <script>
        // Per image, drawn on a canvas (which decodes it now): its pixels are not blank (a truncated PNG keeps its
        // header's natural size but draws nothing below the rows it has). Synchronous, inside the load event, so the
        // result is in the DOM before --dump-dom reads it (an awaited decode() was sometimes not, under load).
        function inspect(i) {
          let decoded = true;
          const c = document.createElement('canvas');
          c.width = i.naturalWidth; c.height = i.naturalHeight;
          let inked = 0, lowerInked = 0;
          if (c.width > 0 && c.height > 0) {
            const g = c.getContext('2d');
            try { g.drawImage(i, 0, 0); } catch (e) { decoded = false; }
            const d = g.getImageData(0, 0, c.width, c.height).data;
            for (let p = 0; p < d.length; p += 4) {
              const ink = d[p + 3] > 0 && d[p] + d[p + 1] + d[p + 2] < 600;
              if (ink) { inked++; if (p / 4 / c.width > c.height / 2) lowerInked++; }
            }
          }
          return { complete: i.complete, decoded, w: i.naturalWidth, h: i.naturalHeight, shown: i.getBoundingClientRect().width, inked, lowerInked };
        }
        window.addEventListener('load', () => {
          const images = [...document.images].map(inspect);
          const svgs = [...document.querySelectorAll('figure svg')].map(s => s.getBoundingClientRect().width);
          const tables = [...document.querySelectorAll('table')].map(t => ({ id: t.id, rows: t.rows.length, height: t.getBoundingClientRect().height }));
          const out = document.createElement('pre');
          out.id = 'render-check';
          out.textContent = JSON.stringify({ images, svgs, tables });
          document.body.appendChild(out);
        });
        </script>
        """;

    [SkippableTheory]
    [InlineData(false)]
    [InlineData(true)]
    public void Chromium_renders_every_image_and_table(bool svg)
    {
        Skip.IfNot(File.Exists(Chromium), $"{Chromium} is not installed (scripts/ci-deps.sh installs it)");
        using var dir = new TempDir();
        string model = dir["run.safetensors"];
        string report = HtmlReport.Write(model, Input(Diagnostics()), svg ? NoSkia : null);
        string probe = dir["probe.html"];
        File.WriteAllText(probe, File.ReadAllText(report).Replace("</body>", Probe + "</body>", StringComparison.Ordinal));

        string dom = RunChromium(dir, "--dump-dom", new Uri(probe).AbsoluteUri);
        var match = Regex.Match(dom, "<pre id=\"render-check\">(.*?)</pre>", RegexOptions.Singleline);
        Assert.True(match.Success, $"no render check in the DOM:\n{dom[..Math.Min(dom.Length, 2000)]}");
        using var json = JsonDocument.Parse(System.Net.WebUtility.HtmlDecode(match.Groups[1].Value));
        var images = json.RootElement.GetProperty("images").EnumerateArray().ToArray();
        var svgs = json.RootElement.GetProperty("svgs").EnumerateArray().Select(e => e.GetDouble()).ToArray();
        if (svg)
        {
            Assert.Empty(images);
            Assert.Equal(4, svgs.Length);
            Assert.All(svgs, w => Assert.True(w > 100, $"an inline SVG rendered {w} px wide"));
        }
        else
        {
            Assert.Equal(4, images.Length);
            foreach (var i in images)
            {
                Assert.True(i.GetProperty("complete").GetBoolean() && i.GetProperty("decoded").GetBoolean(), i.ToString());
                // Lines, labels and axes: at least 1 % of the pixels inked, and some in the lower half too.
                Assert.True(i.GetProperty("inked").GetInt32() > 800 * 400 / 100 && i.GetProperty("lowerInked").GetInt32() > 100, i.ToString());
                Assert.Equal(800, i.GetProperty("w").GetInt32());   // decoded: the PNG's own size
                Assert.Equal(400, i.GetProperty("h").GetInt32());
                Assert.True(i.GetProperty("shown").GetDouble() > 100, i.ToString());
            }
        }
        var tables = json.RootElement.GetProperty("tables").EnumerateArray().ToDictionary(t => t.GetProperty("id").GetString()!);
        Assert.Equal(4, tables["configuration"].GetProperty("rows").GetInt32());
        Assert.Equal(3 + 1, tables["epochs"].GetProperty("rows").GetInt32());
        Assert.Equal(4 + 1, tables["confusion"].GetProperty("rows").GetInt32());
        Assert.All(tables.Values, t => Assert.True(t.GetProperty("height").GetDouble() > 20, t.ToString()));

        string shot = dir["shot.png"];
        RunChromium(dir, $"--screenshot={shot}", new Uri(report).AbsoluteUri);
        using var bitmap = SKBitmap.Decode(shot);
        Assert.NotNull(bitmap);
        double sum = 0, sumSquares = 0;
        int n = 0, dark = 0;
        for (int y = 0; y < bitmap.Height; y += 2)
            for (int x = 0; x < bitmap.Width; x += 2)
            {
                var c = bitmap.GetPixel(x, y);
                double luma = 0.299 * c.Red + 0.587 * c.Green + 0.114 * c.Blue;
                sum += luma;
                sumSquares += luma * luma;
                n++;
                if (luma < 128) dark++;
            }
        double variance = sumSquares / n - (sum / n) * (sum / n);
        Assert.True(variance > 100 && dark > 0.005 * n, $"the screenshot looks blank: luma variance {variance:F1}, {dark} of {n} pixels dark");
    }

    /// <summary>Runs headless Chromium once with a fresh profile; returns stdout. Killed (its own process tree) after 90 s.</summary>
    private static string RunChromium(TempDir dir, string action, string url)
    {
        var start = new ProcessStartInfo(Chromium) { RedirectStandardOutput = true, RedirectStandardError = true };
        string profile = Directory.CreateTempSubdirectory("chromium-profile-").FullName;
        foreach (string a in new[]
                 {
                     "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                     "--disable-component-update", "--disable-sync", "--hide-scrollbars", $"--user-data-dir={profile}",
                     "--window-size=1100,3000", "--virtual-time-budget=5000", action, url,
                 })
            start.ArgumentList.Add(a);
        try
        {
            using var chromium = Process.Start(start)!;
            var stdout = chromium.StandardOutput.ReadToEndAsync();
            var stderr = chromium.StandardError.ReadToEndAsync();
            if (!chromium.WaitForExit(TimeSpan.FromSeconds(90)))
            {
                chromium.Kill(entireProcessTree: true);
                Assert.Fail($"chromium {action} did not finish in 90 s");
            }
            Assert.True(chromium.ExitCode == 0, $"chromium {action} exited {chromium.ExitCode}: {stderr.Result}");
            return stdout.Result;
        }
        finally
        {
            try { Directory.Delete(profile, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
    }

    private static string Between(string text, string start, string end)
    {
        int i = text.IndexOf(start, StringComparison.Ordinal);
        return text[i..text.IndexOf(end, i, StringComparison.Ordinal)];
    }

    [GeneratedRegex("<img [^>]*src=\"([^\"]*)\"")]
    private static partial Regex ImgTag();
}
