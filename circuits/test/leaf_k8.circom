pragma circom 2.1.0;

include "../src/leaf.circom";

// Test main: the Poseidon leaf of one step with K = 8 candidates (compared with @infraxa/proofs/zk).
component main = StepLeaf(8);
