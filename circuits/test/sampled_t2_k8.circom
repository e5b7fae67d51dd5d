pragma circom 2.1.0;

include "../src/sampled.circom";

// Test main: a sampled window of T = 2 steps, K = 8 candidates.
component main {public [index, active, seed, tau, token]} = SampledWindow(2, 8);
