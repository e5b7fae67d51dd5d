pragma circom 2.1.0;

include "../src/window.circom";

// Test main: a window of T = 4 steps, K = 4 candidates.
component main {public [index, active, token]} = TranscriptWindow(4, 4);
