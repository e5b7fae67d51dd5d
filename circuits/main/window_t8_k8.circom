pragma circom 2.1.0;

include "../src/window.circom";

// Benchmark circuit: windows of T = 8 steps, K = 8 candidates.
component main {public [index, active, token]} = TranscriptWindow(8, 8);
