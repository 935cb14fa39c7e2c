using System.Text.Json;
using Xunit;

namespace Backprop.Functional.Tests.Layers.Recurrent;

/// <summary>The PyTorch references for the recurrent layers: Fixtures/*.json, one case per file, written by
/// scripts/recurrent-references.py (torch 1.13, float64; its header says what each value means and what it checked).
/// Tensors are flat and row-major with their shape beside them; x is [batch × time × inputs], batch first.</summary>
public static class RecurrentGoldens
{
    /// <summary>One layer of a case's list as the script wrote it.</summary>
    /// <param name="Kind">Rnn, Lstm, Gru or Dense.</param>
    /// <param name="Inputs">Input width.</param>
    /// <param name="Hidden">Hidden width H of a cell (0 for Dense).</param>
    /// <param name="Outputs">Output width of a Dense layer (0 for a cell).</param>
    /// <param name="Activation">An <see cref="ActivationKind"/> name: Dense and Rnn only.</param>
    /// <param name="ReturnSequences">A cell's flag: every step's h rather than the last.</param>
    /// <param name="InitialState">A cell's initial state: Zero or Learned.</param>
    /// <param name="PerStep">A Dense layer's flag: applied at every step of a sequence.</param>
    public sealed record LayerJson(string Kind, int Inputs, int Hidden, int Outputs, string? Activation,
        bool ReturnSequences, string? InitialState, bool PerStep);

    /// <summary>A flat row-major tensor and its shape.</summary>
    public sealed record TensorJson(int[] Shape, double[] Value);

    /// <summary>A parameter tensor under its layout name, its value and ∂C/∂ of it.</summary>
    public sealed record ParameterJson(string Name, int[] Shape, double[] Value, double[] Gradient);

    /// <summary>One case: the network, its batch and what PyTorch computed for it.</summary>
    /// <param name="Case">The case's name (the file's name).</param>
    /// <param name="Summary">What the case exercises.</param>
    /// <param name="Loss">A <see cref="LossKind"/> name.</param>
    /// <param name="Layers">The layers in order.</param>
    /// <param name="Batch">Sequences in the batch.</param>
    /// <param name="Time">Steps of the padded batch.</param>
    /// <param name="Lengths">Each sequence's own length; steps at or beyond it are padding (random values on purpose).</param>
    /// <param name="X">[batch × time × inputs].</param>
    /// <param name="Y">[batch × outputs], or [batch × time × outputs] one-hot for a per-step head.</param>
    /// <param name="Output">The network's output, same shape as y; 0 at padded steps (not compared).</param>
    /// <param name="Cost">The mean cost: over the batch, or over the valid (sample, step) pairs for a per-step head.</param>
    /// <param name="Parameters">Every tensor in layout order.</param>
    /// <param name="InputGradient">∂C/∂x, [batch × time × inputs], exactly 0 at padded steps.</param>
    public sealed record Golden(string Case, string Summary, string Loss, LayerJson[] Layers, int Batch, int Time,
        int[] Lengths, TensorJson X, TensorJson Y, TensorJson Output, double Cost, ParameterJson[] Parameters,
        TensorJson InputGradient)
    {
        /// <inheritdoc/>
        public override string ToString() => Case;
    }

    private static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web);

    private static string Directory => Path.Combine(AppContext.BaseDirectory, "Layers", "Recurrent", "Fixtures");

    /// <summary>The cases' names (the fixtures' file names), in ordinal order.</summary>
    public static string[] CaseNames() =>
        [.. System.IO.Directory.GetFiles(Directory, "*.json").Select(Path.GetFileNameWithoutExtension).Order(StringComparer.Ordinal)!];

    /// <summary><see cref="CaseNames"/> as a theory's data.</summary>
    public static TheoryData<string> Names() => new(CaseNames());

    /// <summary>The case named <paramref name="name"/>.</summary>
    public static Golden Load(string name) =>
        JsonSerializer.Deserialize<Golden>(File.ReadAllText(Path.Combine(Directory, name + ".json")), Options)
        ?? throw new InvalidDataException($"{name}.json is empty");

    /// <summary>Product of a shape's extents (1 for a scalar).</summary>
    public static int Count(int[] shape) => shape.Aggregate(1, (n, d) => n * d);
}

/// <summary>The fixtures reach the output directory and hold what the recurrent golden tests read, consistently;
/// the golden comparison itself (RecurrentGoldenTests.cs) is compiled once the recurrent kinds exist.</summary>
public class RecurrentGoldenFixtureTests
{
    /// <summary>The cases the script writes: 3 per cell, plus a stacked pair for lstm and gru.</summary>
    [Fact]
    public void Fixtures_hold_every_case()
    {
        string[] cells = ["rnn_tanh", "rnn_relu", "lstm", "gru"];
        string[] expected = [.. cells.SelectMany(c => new[] { "_seq_to_one", "_seq_to_seq", "_learned_state" }.Select(s => c + s)),
            "lstm_stacked", "gru_stacked"];
        Assert.Equal(expected.Order(StringComparer.Ordinal), RecurrentGoldens.CaseNames());
    }

    /// <summary>Shapes agree with the values and the layer list; parameter names follow the layout's naming
    /// (layers.{l}.weight_ih_l0 …, then h0, c0 when learned); ∂C/∂x is 0 at every padded step.</summary>
    [Theory]
    [MemberData(nameof(RecurrentGoldens.Names), MemberType = typeof(RecurrentGoldens))]
    public void Fixture_is_consistent(string name)
    {
        var f = RecurrentGoldens.Load(name);
        Assert.Equal(name, f.Case);
        Assert.Equal(f.Batch, f.Lengths.Length);
        Assert.All(f.Lengths, n => Assert.InRange(n, 1, f.Time));
        foreach (var t in new[] { f.X, f.Y, f.Output, f.InputGradient })
            Assert.Equal(RecurrentGoldens.Count(t.Shape), t.Value.Length);
        Assert.Equal(f.X.Shape, f.InputGradient.Shape);
        Assert.Equal(new[] { f.Batch, f.Time, f.Layers[0].Inputs }, f.X.Shape);
        Assert.Equal(f.Y.Shape, f.Output.Shape);
        Assert.True(double.IsFinite(f.Cost) && f.Cost > 0, $"cost {f.Cost}");

        var names = new List<string>();
        for (int l = 0; l < f.Layers.Length; l++)
        {
            var layer = f.Layers[l];
            if (layer.Kind == "Dense")
            {
                names.AddRange([$"layers.{l}.weight", $"layers.{l}.bias"]);
                continue;
            }
            names.AddRange(new[] { "weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0" }.Select(n => $"layers.{l}.{n}"));
            if (layer.InitialState == "Learned") names.Add($"layers.{l}.h0");
            if (layer.InitialState == "Learned" && layer.Kind == "Lstm") names.Add($"layers.{l}.c0");
        }
        Assert.Equal(names, f.Parameters.Select(p => p.Name));
        foreach (var p in f.Parameters)
        {
            Assert.Equal(RecurrentGoldens.Count(p.Shape), p.Value.Length);
            Assert.Equal(p.Value.Length, p.Gradient.Length);
        }

        int inputs = f.X.Shape[2];
        for (int s = 0; s < f.Batch; s++)
            for (int t = f.Lengths[s]; t < f.Time; t++)
                for (int i = 0; i < inputs; i++)
                    Assert.Equal(0.0, f.InputGradient.Value[(s * f.Time + t) * inputs + i]);
    }
}
