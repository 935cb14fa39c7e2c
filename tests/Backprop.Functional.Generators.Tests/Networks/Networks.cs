namespace Backprop.Functional.Generators.Tests.Networks;

// Real [Network] types, compiled by the generator this project references as an analyzer.

/// <summary>784-128-10, ReLU then softmax, categorical cross-entropy (the fused δᴸ = a − y path).</summary>
[Network(Loss = typeof(SoftmaxCrossEntropy))]
[Dense(784, 128, typeof(ReLU))]
[Dense(128, 10, typeof(Softmax))]
public static partial class MnistMlp;

/// <summary>16-16-1, tanh hidden layer, identity output, quadratic cost (the embedded/online case).</summary>
[Network]
[Dense(16, 16, typeof(Tanh))]
[Dense(16, 1)]
public static partial class Tiny;

/// <summary>Four layers of different activations, binary cross-entropy on a sigmoid output.</summary>
[Network(Loss = typeof(CrossEntropy))]
[Dense(6, 8, typeof(GELU))]
[Dense(8, 7, typeof(LeakyReLU))]
[Dense(7, 5, typeof(Softplus))]
[Dense(5, 3, typeof(Sigmoid))]
public static partial class Mix;

/// <summary>A small softmax classifier, so the fused softmax path runs many cases cheaply.</summary>
[Network(Loss = typeof(SoftmaxCrossEntropy))]
[Dense(5, 6, typeof(ReLU))]
[Dense(6, 4, typeof(Softmax))]
public static partial class SmallSoftmax;
