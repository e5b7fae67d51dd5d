pragma circom 2.1.0;

include "../src/window.circom";

// Benchmark circuit: windows of T = 32 steps, K = 8 candidates.
component main {public [index, active, token]} = TranscriptWindow(32, 8);
