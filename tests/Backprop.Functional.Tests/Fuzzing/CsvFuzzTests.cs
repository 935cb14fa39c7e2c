using System.Globalization;
using System.Text;
using Xunit;
using Xunit.Abstractions;

namespace Backprop.Functional.Tests.Fuzzing;

/// <summary>Mutated CSV files through <see cref="Csv.Load"/> as regression, as one-hot with a given class count,
/// and as one-hot with the class count taken from the largest label.</summary>
public sealed class CsvFuzzTests(ITestOutputHelper output)
{
    [Fact]
    public void Csv_mutatedFiles_loadOrThrowInvalidData()
    {
        var report = Fuzzer.Run(new CsvTarget(), output);

        Assert.True(report.Failures.Count == 0, report.FailureMessage);
    }
}

internal sealed class CsvTarget : IFuzzTarget
{
    private static readonly string[] Seeds =
    [
        "a,b,label\n0.5,1,3\n-2e-3,4,0\n7,8,9\n",
        "label,x\n1,0.25\n0,1.5e10\n\n2,-0\n   \n1,3.4028235E+38\n",
        "\"x,1\",\"y\"\"q\",label\r\n\"1\",2,\"0\"\r\n3, 4 ,1\r\n\t-.5 ,\" 6 \",2\r\n",
        "\uFEFFf1,label,f2\n1,1,1\n0,0,0\n",
        "x,label\n" + string.Concat(Enumerable.Range(0, 20).Select(i => $"{i * 0.1:R},{i % 4}\n")),
    ];

    private static readonly string[] Tokens =
    [
        "1e39", "3.4028235e38", "3.4028236e38", "-1e400", "1e-50", "NaN", "nan", "Infinity", "-Infinity", "∞", "1e9",
        "1000000000", "2147483647", "2147483648", "-2147483648", "4294967296", "99999999999999999999", "-1", "-0", "0x10",
        "1_000", "١٢٣", "", "  ", "\"", "\"\"", "\"\"\"", "\"1\"x", "1,5", "+5", "5e", ".", " - ", "0.", "1e+0010",
        "00000000000000000000000000001", new string('9', 400), "1" + new string('0', 309), "1e2147483648", "label",
        "\u0000", "\u00A0", "𝟙", "1\u00A0", "٣", "0\t", "7",
    ];

    private readonly byte[][] _seeds = [.. Seeds.Select(Encoding.UTF8.GetBytes)];

    public string Format => "csv";

    public FuzzCase Make(ref SeededRandom rng, int index)
    {
        int s = rng.Next(_seeds.Length), other = rng.Next(_seeds.Length);
        var recipe = new StringBuilder();
        Mutator.Note(recipe, $"seed {s}");
        byte[] bytes = rng.Next(2) == 0 ? Structured(Seeds[s], ref rng, recipe) : _seeds[s];
        if (bytes == _seeds[s] || rng.Next(3) == 0) bytes = Mutator.Havoc(bytes, _seeds[other], ref rng, recipe);

        int kind = rng.Next(3);   // 0 regression, 1 one-hot with a class count, 2 one-hot with inferred classes
        int classes = kind == 1 ? (rng.Next(2) == 0 ? 10 : 1 + rng.Next(20)) : 0;
        string entry = kind switch { 0 => "Load(Regression)", 1 => "Load(OneHot, classes given)", _ => "Load(OneHot, classes inferred)" };
        var c = new FuzzCase(bytes, entry, recipe.ToString()) { Kind = kind, Argument = classes };
        return c;
    }

    /// <summary>Text-aware edits: a field replaced by an edge token, lines duplicated, dropped or swapped,
    /// separators and quotes inserted, the label column renamed or doubled, a very wide row, byte-order marks and
    /// invalid UTF-8.</summary>
    private static byte[] Structured(string seed, ref SeededRandom rng, StringBuilder recipe)
    {
        var lines = seed.Split('\n').ToList();
        switch (rng.Next(8))
        {
            case 0:
            case 1:
            case 2:
            {
                int l = rng.Next(lines.Count);
                var fields = lines[l].Split(',');
                int f = rng.Next(fields.Length);
                string token = Tokens[rng.Next(Tokens.Length)];
                fields[f] = token;
                lines[l] = string.Join(',', fields);
                Mutator.Note(recipe, $"line {l} field {f} = \"{Fuzzer.Escape(token.Length > 20 ? token[..20] + "…" : token)}\"");
                break;
            }
            case 3:
            {
                int l = rng.Next(lines.Count), times = rng.Next(3) == 0 ? 1 + rng.Next(2000) : 1;
                int op = rng.Next(3);
                if (op == 0) lines.InsertRange(l, Enumerable.Repeat(lines[l], times));
                else if (op == 1) lines.RemoveAt(l);
                else
                {
                    int m = rng.Next(lines.Count);
                    (lines[l], lines[m]) = (lines[m], lines[l]);
                }
                Mutator.Note(recipe, op == 0 ? $"line {l} ×{times + 1}" : op == 1 ? $"drop line {l}" : $"swap line {l}");
                break;
            }
            case 4:
            {
                string text = string.Join('\n', lines);
                string[] inserts = [",", "\"", "\n", "\r", "\r\n", ",,", "\"\"", "\u2028", "\u0085", " ", "\t", "label,"];
                string insert = inserts[rng.Next(inserts.Length)];
                int at = rng.Next(text.Length + 1);
                Mutator.Note(recipe, $"insert \"{Fuzzer.Escape(insert)}\"@{at}");
                return Encoding.UTF8.GetBytes(text.Insert(at, insert));
            }
            case 5:
            {
                string[] names = ["Label", "label ", "", "label,label", "\"label\"", "lab\"el", "label,x"];
                string name = names[rng.Next(names.Length)];
                int at = lines[0].IndexOf("label", StringComparison.Ordinal);
                if (at >= 0) lines[0] = lines[0][..at] + name + lines[0][(at + 5)..];
                Mutator.Note(recipe, $"label column named \"{name}\"");
                break;
            }
            case 6:
            {
                int l = rng.Next(lines.Count), width = 1 + rng.Next(rng.Next(2) == 0 ? 50 : 20000);
                var row = new StringBuilder(lines[l]);
                for (int i = 0; i < width; i++) row.Append(',').Append(i % 10);
                lines[l] = row.ToString();
                Mutator.Note(recipe, $"line {l} +{width} fields");
                break;
            }
            default:
            {
                byte[][] prefixes = [[0xEF, 0xBB, 0xBF], [0xFF, 0xFE], [0xFE, 0xFF], [0xFF, 0xFE, 0, 0], [0xC3, 0x28], [0xFF], [0], [0xED, 0xA0, 0x80], [0xC0, 0xAF]];
                byte[] prefix = prefixes[rng.Next(prefixes.Length)];
                byte[] text = Encoding.UTF8.GetBytes(string.Join('\n', lines));
                int at = rng.Next(2) == 0 ? 0 : rng.Next(text.Length + 1);
                Mutator.Note(recipe, $"bytes {Convert.ToHexString(prefix)}@{at}");
                return [.. text.AsSpan(0, at), .. prefix, .. text.AsSpan(at)];
            }
        }
        return Encoding.UTF8.GetBytes(string.Join('\n', lines));
    }

    public Func<long> Prepare(FuzzCase c, string directory)
    {
        string path = Path.Combine(directory, Fuzzer.FileStem + ".csv");
        File.WriteAllBytes(path, c.Bytes);
        var targets = c.Kind == 0 ? CsvTargets.Regression : CsvTargets.OneHot;
        int? classes = c.Kind == 1 ? c.Argument : null;
        return () =>
        {
            var d = Csv.Load(path, "label", targets, classes);
            bool consistent = d.Count > 0 && d.Features > 0 && d.X.Length == (long)d.Count * d.Features && d.Y.Length == (long)d.Count * d.Outputs
                && (c.Kind == 0 ? d.Outputs == 1 && d.Labels is null : d.Labels!.Length == d.Count && d.Labels.All(l => l >= 0 && l < d.Outputs))
                && (c.Kind != 1 || d.Outputs == classes)
                && d.X.All(float.IsFinite) && d.Y.All(float.IsFinite);
            if (!consistent) throw new InvalidOperationException("inconsistent loaded value: Csv.Load data set does not match its shape or holds a non-finite value");
            return 4L * (d.X.Length + d.Y.Length + (d.Labels?.Length ?? 0));
        };
    }

    public string? KnownAfterRun(FuzzCase c, Exception e) => null;
}
