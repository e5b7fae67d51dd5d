pragma circom 2.1.0;

include "../src/sampled.circom";

// Release circuit of sampled answers (temperature > 0, Poseidon-Gumbel rule): windows of T = 8 steps,
// K = 8 candidates.
component main {public [index, active, seed, tau, token]} = SampledWindow(8, 8);
