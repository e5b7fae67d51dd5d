pragma circom 2.1.0;

include "circomlib/circuits/poseidon.circom";
include "greedy.circom";
include "leaf.circom";

// Root of one window of T leaves: Poseidon(leaf_0, ..., leaf_{T-1}) for T <= 16, and for T = 16 n
// (n <= 16) Poseidon over the n roots of consecutive 16-leaf chunks.
template WindowHash(T) {
    signal input leaf[T];
    signal output out;

    if (T <= 16) {
        component hash = Poseidon(T);
        for (var i = 0; i < T; i++) {
            hash.inputs[i] <== leaf[i];
        }
        out <== hash.out;
    } else {
        assert(T % 16 == 0 && T <= 256);
        var n = T \ 16;
        component chunk[n];
        component top = Poseidon(n);
        for (var c = 0; c < n; c++) {
            chunk[c] = Poseidon(16);
            for (var i = 0; i < 16; i++) {
                chunk[c].inputs[i] <== leaf[16 * c + i];
            }
            top.inputs[c] <== chunk[c].out;
        }
        out <== top.out;
    }
}

// One window of T steps of a greedy transcript with K committed candidates per step.
//
// Public: root (output), index (window position: steps index*T .. index*T+T-1), active (how many of
// the T steps exist: min(T, stepCount - index*T)), token[T] (the chosen tokens, 0 for padded steps).
// Private: key[T][K] (see greedy.circom and leaf.circom).
//
// For every step i < active: token[i] follows the greedy rule over key[i] and leaf i is
// StepLeaf(index*T + i, token[i], key[i]). Steps i >= active are padding: their leaf is 0 whatever
// the witness (the greedy check still runs on them, and the prover feeds a dummy that passes it), so
// a window root commits to exactly `active` steps. The verifier rebuilds every public signal from the
// signed response (tokens, step count), the window's position and its root; none comes from the prover.
template TranscriptWindow(T, K) {
    signal input index;
    signal input active;
    signal input token[T];
    signal input key[T][K];
    signal output root;

    // act[i] = 1 for i < active, 0 after: binary, non-increasing, summing to `active`.
    signal act[T];
    var count = 0;
    for (var i = 0; i < T; i++) {
        act[i] <-- i < active ? 1 : 0;
        act[i] * (act[i] - 1) === 0;
        if (i > 0) {
            act[i] * (1 - act[i - 1]) === 0;
        }
        count += act[i];
    }
    count === active;

    component greedy[T];
    component leaf[T];
    signal leafOut[T];
    component hash = WindowHash(T);
    for (var i = 0; i < T; i++) {
        greedy[i] = GreedyStep(K);
        leaf[i] = StepLeaf(K);
        greedy[i].token <== token[i];
        leaf[i].token <== token[i];
        leaf[i].step <== index * T + i;
        for (var j = 0; j < K; j++) {
            greedy[i].key[j] <== key[i][j];
            leaf[i].key[j] <== key[i][j];
        }
        leafOut[i] <== leaf[i].out * act[i];
        hash.leaf[i] <== leafOut[i];
    }
    root <== hash.out;
}
