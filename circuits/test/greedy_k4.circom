pragma circom 2.1.0;

include "../src/greedy.circom";

// Test main: the greedy rule over K = 4 candidates.
component main {public [token]} = GreedyStep(4);
