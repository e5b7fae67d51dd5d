pragma circom 2.1.0;

include "circomlib/circuits/bitify.circom";

// Greedy decoding of one committed step: `token` is the argmax of the K committed log-probs, lowest
// token id on ties.
//
// Each committed candidate is one key (see leaf.circom):
//
//     key = nlp * 2^32 + id,     nlp = -logprob (Q16.16, so 0 <= nlp < 2^31), 0 <= id < 2^32
//
// so "highest log-prob, lowest id on ties" is exactly "smallest key". The circuit proves that the key
// of the chosen token, chosen = cnlp * 2^32 + token, is one of the K keys and that no key is smaller:
//
//   * cnlp < 2^31 (31-bit decomposition), so chosen < 2^63 (`token` is a public u32);
//   * prod_i (key_i - chosen) == 0, so chosen is one of the keys;
//   * key_i - chosen is in [0, 2^63) for every i (63-bit decomposition), so every key is >= chosen,
//     and key_i = chosen + (key_i - chosen) < 2^64 as an integer (no wrap-around modulo p).
//
// The last point is also what makes the packing in leaf.circom injective: every key is a 64-bit
// integer, i.e. a unique (nlp, id) pair with nlp, id < 2^32. Keys are not decomposed one by one, so
// the circuit does not re-check that ids are distinct or that nlp < 2^31 for the other candidates:
// it proves "token = lexicographic min of the committed (nlp, id) pairs", which is the sampling rule
// for any committed list (the provider's library refuses to commit malformed steps, and audits that
// open a step check its form).
//
// Cost: 31 + K * 63 + (K - 1) constraints.
template GreedyStep(K) {
    signal input key[K];
    signal input token;

    // Witness: the nlp of the smallest key (the prover's claim; everything below checks it).
    var minKey = key[0];
    for (var i = 1; i < K; i++) {
        if (key[i] < minKey) {
            minKey = key[i];
        }
    }
    signal cnlp;
    cnlp <-- minKey >> 32;
    component cnlpRange = Num2Bits(31);
    cnlpRange.in <== cnlp;

    signal chosen;
    chosen <== cnlp * 4294967296 + token;

    // chosen is one of the committed keys.
    signal prod[K];
    prod[0] <== key[0] - chosen;
    for (var i = 1; i < K; i++) {
        prod[i] <== prod[i - 1] * (key[i] - chosen);
    }
    prod[K - 1] === 0;

    // No committed key is smaller than the chosen one.
    component diff[K];
    for (var i = 0; i < K; i++) {
        diff[i] = Num2Bits(63);
        diff[i].in <== key[i] - chosen;
    }
}
