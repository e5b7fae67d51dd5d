pragma circom 2.1.0;

include "../src/window.circom";

// The release circuit: windows of T = 16 steps, K = 8 committed candidates per step.
component main {public [index, active, token]} = TranscriptWindow(16, 8);
