namespace Backprop.Functional.Generators.Tests;

/// <summary>The declarations the snapshot and diagnostic tests feed to the generator (Networks/ holds the same
/// ones compiled for real).</summary>
internal static class Sources
{
    public const string MnistMlp = """
        using Backprop.Functional;

        namespace Samples;

        [Network(Loss = typeof(SoftmaxCrossEntropy))]
        [Dense(784, 128, typeof(ReLU))]
        [Dense(128, 10, typeof(Softmax))]
        public static partial class MnistMlp;
        """;

    public const string Tiny = """
        using Backprop.Functional;

        namespace Samples;

        [Network]
        [Dense(16, 16, typeof(Tanh))]
        [Dense(16, 1)]
        internal static partial class Tiny;
        """;

    public const string Mix = """
        using Backprop.Functional;

        namespace Samples.Deep;

        public static partial class Outer
        {
            [Network(Loss = typeof(CrossEntropy))]
            [Dense(6, 8, typeof(GELU))]
            [Dense(8, 7, typeof(LeakyReLU))]
            [Dense(7, 5, typeof(Softplus))]
            [Dense(5, 3, typeof(Sigmoid))]
            public static partial class Mix;
        }
        """;

    public const string Declared = """
        using Backprop.Functional;

        namespace Samples;

        [Network(Initialization = Initialization.Xavier, Seed = 7, Threads = 2)]
        [Optimizer(typeof(Adam), LearningRate = 3e-3, Beta2 = 0.99)]
        [Dense(2, 16, typeof(Tanh))]
        [Dense(16, 1)]
        internal static partial class Declared;
        """;

    public const string Recurrent = """
        using Backprop.Functional;

        namespace Samples;

        [Network(Loss = typeof(SoftmaxCrossEntropy))]
        [Optimizer(typeof(Adam), LearningRate = 1e-3)]
        [Rnn(3, 8, typeof(ReLU))]
        [Lstm(8, 16)]
        [Dense(16, 4, typeof(Softmax))]
        public static partial class SeqClassifier;
        """;
}
