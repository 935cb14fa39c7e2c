using Backprop.Functional;

namespace Backprop.Cli;

/// <summary>Named starting points for <c>backprop train --preset</c>; every field an explicit option also sets is
/// overridden by that option.</summary>
internal sealed record Preset(
    string Name,
    int[] Layers,
    ActivationKind Hidden,
    ActivationKind Output,
    LossKind Loss,
    string Optimizer,
    double LearningRate,
    double L2,
    int Batch,
    int Epochs,
    Initialization Init)
{
    /// <summary>Nielsen, Neural Networks and Deep Learning, ch. 1: 784-30-10 sigmoid, quadratic cost, SGD η = 3.0,
    /// mini-batches of 10, 30 epochs (the book reports about 95%).</summary>
    public static Preset Nielsen { get; } = new("nielsen", [784, 30, 10], ActivationKind.Sigmoid, ActivationKind.Sigmoid,
        LossKind.Quadratic, "sgd", 3.0, 0, 10, 30, Initialization.Nielsen);

    /// <summary>Nielsen ch. 3: 784-100-10 sigmoid, cross-entropy, L2 λ = 5.0, SGD η = 0.5, mini-batches of 10,
    /// 30 epochs (the book reports 98%).</summary>
    public static Preset NielsenCh3 { get; } = new("nielsen-ch3", [784, 100, 10], ActivationKind.Sigmoid, ActivationKind.Sigmoid,
        LossKind.CrossEntropy, "sgd", 0.5, 5.0, 10, 30, Initialization.Nielsen);

    public static IReadOnlyList<Preset> All { get; } = [Nielsen, NielsenCh3];

    public static string[] Names => [.. All.Select(p => p.Name)];

    public static Preset Named(string name) =>
        All.FirstOrDefault(p => p.Name == name) ?? throw new UsageException($"unknown preset '{name}' (known: {string.Join(", ", Names)})");
}
