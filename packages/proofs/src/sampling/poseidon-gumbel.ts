import { sha256 } from '@noble/hashes/sha2.js'
import { bytesToHex } from '@noble/hashes/utils.js'
import { poseidon3 } from 'poseidon-lite'
import { InvalidStepError } from '../errors.js'
import { canonicalOrder } from '../transcript/leaf.js'

/**
 * The Poseidon-Gumbel sampling rule (`infraxa/zk-sample/v1`): seeded Gumbel-max over the committed
 * top-k in integer arithmetic only, so that a circuit can prove it (`circuits/src/sampled.circom`)
 * and every runtime computes exactly the same token. One specification for the engine-side sampler,
 * the verifiers and the circuit; its test vectors are `test/fixtures/poseidon-gumbel-vectors.json`.
 *
 * For a committed step t with candidates (id_i, q_i) — q_i the Q16.16 log-prob, id_i distinct:
 *
 * ```text
 * order      candidates sorted by key_i = (−q_i) · 2^32 + id_i ascending (highest log-prob, lower id first);
 *            rank j is the position in that order
 * τ          = round(T · 2^16)                               the temperature in Q16.16
 * h          = Poseidon(DOMAIN, seed, t)                     DOMAIN = ASCII "infraxa/zk-sample/v1", big-endian
 * u_j        = ⌊h / 2^(10 j)⌋ mod 2^10                       10 bits of noise per rank, j < 25
 * G[u]       = round(−ln(−ln((u + ½) / 2^10)) · 2^16)        a fixed table of 1024 integers (GUMBEL_TABLE)
 * s_j        = τ · G[u_j] + q_j · 2^16                       = 2^32 · T · (q_j / 2^16 / T + g_j)
 * token      = id at the rank with the highest s_j, the lowest rank on ties
 * ```
 *
 * This is Gumbel-max sampling at temperature T with the Gumbel noise quantised to 1024 levels (the
 * levels' midpoints): noise above the top level (u > 1 − 2^−11) is clipped at 7.62, so a candidate whose
 * probability is below ~1/2000 of the leader's is drawn slightly less often than softmax says
 * (`pnpm --filter @infraxa/proofs bench` measures the total-variation distance). Noise is attached to
 * the rank, not the id: the order is fixed by the committed log-probs, so the provider has no choice.
 * Nucleus truncation (top-p) is not part of the rule.
 */
export const POSEIDON_GUMBEL_DOMAIN = BigInt(`0x${Buffer.from('infraxa/zk-sample/v1').toString('hex')}`)

/** Bits of noise per candidate. */
export const GUMBEL_BITS = 10

/** The most candidates the rule takes: 25 × 10 bits of one Poseidon output. */
export const MAX_POSEIDON_GUMBEL_K = 25

const Q = 65536

/** `round(−ln(−ln((u + ½) / 1024)) · 2^16)` for u = 0 … 1023. */
export const GUMBEL_TABLE: readonly number[] = Object.freeze(
  Array.from({ length: 2 ** GUMBEL_BITS }, (_, u) =>
    Math.round(-Math.log(-Math.log((u + 0.5) / 2 ** GUMBEL_BITS)) * Q),
  ),
)

/**
 * sha256 of the table as 1024 signed 32-bit big-endian integers — part of the specification: a runtime
 * whose `Math.log` rounds differently would change it (the tests pin it).
 */
export function gumbelTableHash(): string {
  const bytes = new Uint8Array(4 * GUMBEL_TABLE.length)
  const view = new DataView(bytes.buffer)
  GUMBEL_TABLE.forEach((g, i) => {
    view.setInt32(4 * i, g)
  })
  return bytesToHex(sha256(bytes))
}

/** The temperature in Q16.16, as the rule (and the circuit's public input) takes it. */
export function quantiseTemperature(temperature: number): number {
  return Math.round(temperature * Q)
}

/** h = Poseidon(DOMAIN, seed, t): the noise of step t. */
export function poseidonNoise(seed: bigint, step: number): bigint {
  return poseidon3([POSEIDON_GUMBEL_DOMAIN, BigInt.asUintN(64, seed), BigInt(step)])
}

/**
 * The integer scores `s_j` of the committed candidates, in their committed order (index i, not rank).
 *
 * @throws {InvalidStepError} more than {@link MAX_POSEIDON_GUMBEL_K} candidates
 */
export function poseidonGumbelScores(
  ids: readonly number[],
  quantisedLogprobs: readonly number[],
  temperature: number,
  seed: bigint,
  step: number,
): bigint[] {
  if (ids.length > MAX_POSEIDON_GUMBEL_K) {
    throw new InvalidStepError(
      `the Poseidon-Gumbel rule takes k ≤ ${MAX_POSEIDON_GUMBEL_K}, not ${ids.length}`,
    )
  }
  const tau = BigInt(quantiseTemperature(temperature))
  const h = poseidonNoise(seed, step)
  const scores = new Array<bigint>(ids.length)
  canonicalOrder(ids, quantisedLogprobs).forEach((i, rank) => {
    const u = Number((h >> BigInt(GUMBEL_BITS * rank)) & BigInt(2 ** GUMBEL_BITS - 1))
    scores[i] = tau * BigInt(GUMBEL_TABLE[u]!) + BigInt(quantisedLogprobs[i]!) * BigInt(Q)
  })
  return scores
}

/** The token the Poseidon-Gumbel rule picks (highest score, lowest rank on ties). */
export function poseidonGumbelToken(
  ids: readonly number[],
  quantisedLogprobs: readonly number[],
  temperature: number,
  seed: bigint,
  step: number,
): number {
  const scores = poseidonGumbelScores(ids, quantisedLogprobs, temperature, seed, step)
  let best = -1
  for (const i of canonicalOrder(ids, quantisedLogprobs)) {
    if (best < 0 || scores[i]! > scores[best]!) best = i
  }
  return ids[best]!
}
