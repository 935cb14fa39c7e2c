namespace Backprop.Functional;

/// <summary>How <see cref="HogwildTrainer{T}"/> trains: asynchronous, lock-free SGD (Hogwild!, Niu, Recht, Ré &amp; Wright
/// 2011). Each epoch's step size is η_e = <see cref="LearningRate"/>·<see cref="EpochDecay"/>ᵉ (e from 0), the paper's
/// "back-off" schedule.
/// <para>Threads: immutable, so one instance can be shared by any number of threads.</para></summary>
/// <param name="Epochs">Passes over the training set (<see cref="HogwildTrainer{T}.Fit"/>).</param>
/// <param name="BatchSize">Rows per update; 1, the paper's setting, touches the fewest coordinates per update.</param>
/// <param name="LearningRate">η of the first epoch, for θ ← θ − η·∂C/∂θ.</param>
/// <param name="EpochDecay">Factor β applied to η after every epoch (1: constant).</param>
/// <param name="Seed">Seed of the per-epoch shuffle (the same shuffle as <see cref="Batcher"/> with this seed).</param>
/// <param name="Threads">Workers updating θ at once (at most the cores); 1 is plain serial SGD and deterministic.</param>
public sealed record HogwildOptions(
    int Epochs = 5,
    int BatchSize = 1,
    double LearningRate = 0.01,
    double EpochDecay = 1.0,
    long Seed = 0,
    int Threads = 2);
