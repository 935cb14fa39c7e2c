namespace Backprop.Functional;

/// <summary>What one Hogwild epoch did (<see cref="HogwildTrainer{T}.RunEpoch"/>).</summary>
/// <param name="Epoch">1-based epoch number.</param>
/// <param name="TrainLoss">Mean of the batch costs, each taken at the θ its worker read before its update (which other
/// workers may have been writing at the time).</param>
/// <param name="LearningRate">η of this epoch.</param>
/// <param name="Updates">Updates applied (batches of the epoch).</param>
/// <param name="Workers">Threads that took part: 1 when the GEMM pool was held by another caller, or on one core.</param>
public readonly record struct HogwildEpoch(int Epoch, double TrainLoss, double LearningRate, int Updates, int Workers);
