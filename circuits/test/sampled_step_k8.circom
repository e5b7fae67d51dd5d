pragma circom 2.1.0;

include "../src/sampled.circom";

// Test main: one step of the Poseidon-Gumbel rule, K = 8 candidates.
component main {public [token, step, seed, tau]} = SampledStep(8);
