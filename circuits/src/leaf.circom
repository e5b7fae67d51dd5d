pragma circom 2.1.0;

include "circomlib/circuits/poseidon.circom";

// The Poseidon leaf of one committed step. K + 1 slots of 64 bits, three slots per field element
// (192 bits < 254), least significant slot first:
//
//     slot i < K : key_i = nlp_i * 2^32 + id_i      (nlp_i = -logprob_i, Q16.16)
//     slot K     : step * 2^32 + token
//
//     leaf = Poseidon(e_0, ..., e_{E-1}),  e_j = sum_{s=0..2} slot_{3j+s} * 2^(64 s),  E = ceil((K+1)/3)
//
// K = 8: E = 3. Every slot is a 64-bit integer (keys by GreedyStep's range checks, step and token as
// u32), so the packing is injective. @infraxa/proofs/zk computes the same leaf with poseidon-lite.
template StepLeaf(K) {
    signal input step;
    signal input token;
    signal input key[K];
    signal output out;

    var E = (K + 3) \ 3;
    component hash = Poseidon(E);
    for (var e = 0; e < E; e++) {
        var acc = 0;
        var shift = 1;
        for (var s = 0; s < 3; s++) {
            var slot = 3 * e + s;
            if (slot < K) {
                acc += key[slot] * shift;
            } else if (slot == K) {
                acc += (step * 4294967296 + token) * shift;
            }
            shift = shift * 18446744073709551616;
        }
        hash.inputs[e] <== acc;
    }
    out <== hash.out;
}
