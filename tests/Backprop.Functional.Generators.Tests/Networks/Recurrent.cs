namespace Backprop.Functional.Generators.Tests.Networks;

// Real recurrent [Network] types, compiled by the generator this project references as an analyzer.

/// <summary>LSTM 8→16 and a dense 16→1 head, quadratic cost: the online-step benchmark's shape.</summary>
[Network]
[Lstm(8, 16)]
[Dense(16, 1)]
public static partial class SeqLstm;

/// <summary>A ReLU Elman layer under a GRU (stacked: the RNN gives every step's state), then two dense layers to a softmax.</summary>
[Network(Loss = typeof(SoftmaxCrossEntropy))]
[Rnn(3, 5, typeof(ReLU))]
[Gru(5, 6)]
[Dense(6, 7, typeof(Tanh))]
[Dense(7, 4, typeof(Softmax))]
public static partial class SeqStacked;

/// <summary>A GRU with a declared Adam (the direct-call TrainStep), binary cross-entropy on a sigmoid head.</summary>
[Network(Loss = typeof(CrossEntropy), Seed = 3)]
[Optimizer(typeof(Adam), LearningRate = 1e-2)]
[Gru(4, 6)]
[Dense(6, 2, typeof(Sigmoid))]
public static partial class SeqDeclared;
