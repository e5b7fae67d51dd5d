pragma circom 2.1.0;

include "../src/window.circom";

// Test main: T = 32 (two 16-leaf chunks under one Poseidon), K = 2.
component main {public [index, active, token]} = TranscriptWindow(32, 2);
