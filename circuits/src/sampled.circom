pragma circom 2.1.0;

include "circomlib/circuits/bitify.circom";
include "circomlib/circuits/poseidon.circom";
include "gumbel_table.circom";
include "leaf.circom";
include "window.circom";

// The Poseidon-Gumbel sampling rule ("infraxa/zk-sample/v1", @infraxa/proofs/sampling/poseidon-gumbel.ts)
// for one committed step, K candidates in canonical order:
//
//     key_j = nlp_j * 2^32 + id_j ascending (nlp = -logprob, Q16.16: highest log-prob, lower id first)
//     h     = Poseidon(DOMAIN, seed, step);   u_j = bits 10j .. 10j+9 of h (canonical, h < p)
//     s_j   = tau * G[u_j] - nlp_j * 2^16     (tau = temperature in Q16.16, G = gumbel_table.circom)
//     token = id_w, w the rank with the highest s_j, the lowest rank on ties
//
// Constraints: key split (31 + 32 bits each) and strict order (63 bits, K - 1 times); Poseidon(3) and
// its strict 254-bit decomposition; a 1024-entry lookup per candidate; a one-hot winner w with
// s_w - s_j - [j < w] in [0, 2^49) for every j. |s_j| < 2^48 for tau < 2^23 (temperature <= 100) and
// nlp < 2^31, so no difference wraps modulo p.

// ASCII "infraxa/zk-sample/v1" as a big-endian integer (POSEIDON_GUMBEL_DOMAIN).
function sampleDomain() {
    return 601906037283256549491694778906572269107912078897;
}

// G[u] for u given by its 10 bits (binary signals, least significant first): a multilinear polynomial
// in the bits. The low 5 bits' 32 monomials (26 products) make each of the 32 groups of 32 entries a
// linear form; a binary selection tree over the high 5 bits (31 products) picks the group.
template GumbelLookup() {
    signal input bit[10];
    signal output out;

    var table[1024] = gumbelTable();

    // mono[m] = product of bit[j] for j in m (m over the low 5 bits).
    var mono[32];
    signal prod[26];
    var products = 0;
    mono[0] = 1;
    for (var m = 1; m < 32; m++) {
        var high = 0;
        for (var j = 0; j < 5; j++) {
            if (((m >> j) & 1) == 1) {
                high = j;
            }
        }
        var rest = m - (1 << high);
        if (rest == 0) {
            mono[m] = bit[high];
        } else {
            prod[products] <== mono[rest] * bit[high];
            mono[m] = prod[products];
            products++;
        }
    }

    // Level 0: group g as a linear form of the monomials (Moebius transform of its 32 entries).
    var level[32];
    for (var g = 0; g < 32; g++) {
        var c[32];
        for (var l = 0; l < 32; l++) {
            c[l] = table[32 * g + l];
        }
        for (var j = 0; j < 5; j++) {
            for (var m = 0; m < 32; m++) {
                if (((m >> j) & 1) == 1) {
                    c[m] = c[m] - c[m - (1 << j)];
                }
            }
        }
        var f = 0;
        for (var m = 0; m < 32; m++) {
            f += c[m] * mono[m];
        }
        level[g] = f;
    }

    // Selection over the high bits: 16 + 8 + 4 + 2 + 1 products.
    signal pick[31];
    var used = 0;
    var width = 32;
    for (var j = 5; j < 10; j++) {
        width = width \ 2;
        for (var i = 0; i < width; i++) {
            pick[used] <== bit[j] * (level[2 * i + 1] - level[2 * i]);
            level[i] = level[2 * i] + pick[used];
            used++;
        }
    }
    out <== level[0];
}

template SampledStep(K) {
    signal input key[K];
    signal input token;
    signal input step;
    signal input seed;
    signal input tau;

    assert(K <= 25);

    // key_j = nlp_j * 2^32 + id_j with nlp_j < 2^31 and id_j < 2^32.
    signal nlp[K];
    signal id[K];
    component nlpBits[K];
    component idBits[K];
    for (var j = 0; j < K; j++) {
        nlp[j] <-- key[j] >> 32;
        id[j] <-- key[j] & 4294967295;
        key[j] === nlp[j] * 4294967296 + id[j];
        nlpBits[j] = Num2Bits(31);
        nlpBits[j].in <== nlp[j];
        idBits[j] = Num2Bits(32);
        idBits[j].in <== id[j];
    }

    // Canonical order: strictly ascending keys.
    component order[K - 1];
    for (var j = 0; j + 1 < K; j++) {
        order[j] = Num2Bits(63);
        order[j].in <== key[j + 1] - key[j] - 1;
    }

    // Noise: 10 bits per rank of h = Poseidon(DOMAIN, seed, step), decomposed canonically (h < p).
    component noise = Poseidon(3);
    noise.inputs[0] <== sampleDomain();
    noise.inputs[1] <== seed;
    noise.inputs[2] <== step;
    component hBits = Num2Bits_strict();
    hBits.in <== noise.out;

    component gumbel[K];
    signal scaled[K];
    var s[K];
    for (var j = 0; j < K; j++) {
        gumbel[j] = GumbelLookup();
        for (var b = 0; b < 10; b++) {
            gumbel[j].bit[b] <== hBits.out[10 * j + b];
        }
        scaled[j] <== tau * gumbel[j].out;
        s[j] = scaled[j] - nlp[j] * 65536;
    }

    // The winner w, one-hot (witness: the first rank with the highest score).
    var best = 0;
    for (var j = 1; j < K; j++) {
        if (s[j] > s[best]) {
            best = j;
        }
    }
    signal win[K];
    var count = 0;
    for (var j = 0; j < K; j++) {
        win[j] <-- j == best ? 1 : 0;
        win[j] * (win[j] - 1) === 0;
        count += win[j];
    }
    count === 1;

    signal winScore[K];
    signal winId[K];
    var sw = 0;
    var idw = 0;
    for (var j = 0; j < K; j++) {
        winScore[j] <== win[j] * s[j];
        winId[j] <== win[j] * id[j];
        sw += winScore[j];
        idw += winId[j];
    }
    token === idw;

    // s_w >= s_j for every j, strictly for the ranks before w (after[j] = 1 when w > j).
    component margin[K];
    for (var j = 0; j < K; j++) {
        var after = 0;
        for (var i = j + 1; i < K; i++) {
            after += win[i];
        }
        margin[j] = Num2Bits(49);
        margin[j].in <== sw - s[j] - after;
    }
}

// One window of T steps of a sampled transcript (Poseidon-Gumbel rule) with K candidates per step.
//
// Public: root (output), index, active, seed, tau (the temperature in Q16.16), token[T] (0 for padded
// steps). Private: key[T][K]. As TranscriptWindow (window.circom) but with the sampling rule in place of
// the greedy one; the leaf and window root are the same commitment. Padded steps (i >= active) still run
// the rule: the prover feeds token 0 at log-prob 0 and ids 1..K-1 at nlp 2^30, which it always picks.
template SampledWindow(T, K) {
    signal input index;
    signal input active;
    signal input seed;
    signal input tau;
    signal input token[T];
    signal input key[T][K];
    signal output root;

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

    component rule[T];
    component leaf[T];
    signal leafOut[T];
    component hash = WindowHash(T);
    for (var i = 0; i < T; i++) {
        rule[i] = SampledStep(K);
        leaf[i] = StepLeaf(K);
        rule[i].token <== token[i];
        rule[i].step <== index * T + i;
        rule[i].seed <== seed;
        rule[i].tau <== tau;
        leaf[i].token <== token[i];
        leaf[i].step <== index * T + i;
        for (var j = 0; j < K; j++) {
            rule[i].key[j] <== key[i][j];
            leaf[i].key[j] <== key[i][j];
        }
        leafOut[i] <== leaf[i].out * act[i];
        hash.leaf[i] <== leafOut[i];
    }
    root <== hash.out;
}
