/**
 * Witness checks of the circuit templates (circuits/src) through small test mains: honest witnesses
 * satisfy the R1CS; a wrong chosen token, a wrong root, a wrong position or an out-of-range value do
 * not. Negative cases are checked two ways: the generated witness calculator refuses them, and a
 * hand-altered honest witness (what a cheating prover would feed the prover) breaks a constraint.
 */
import { type CommittedStep, LOGPROB_SCALE, MIN_QUANTISED_LOGPROB, sampleToken } from '@infraxa/proofs'
import { canonicalOrder, quantiseTemperature } from '@infraxa/proofs/sampling'
import { candidateKey, zkLeaf, zkWindowRoot } from '@infraxa/zk'
import fc from 'fast-check'
import { beforeAll, describe, expect, it } from 'vitest'
import { poseidonGumbelVectors } from '../../packages/proofs/test/fixtures/poseidon-gumbel-vectors.js'
import { compileTestCircuit, firstUnsatisfied, type TestCircuit } from './r1cs.js'

const greedy = (ids: readonly number[], lps: readonly number[]) =>
  sampleToken(ids, lps, { temperature: 0, seed: 0n }, 0)
const keys = (ids: readonly number[], lps: readonly number[]) =>
  ids.map((id, i) => candidateKey(id, lps[i]!).toString())

/** A well-formed step: k distinct ids, quantised log-probs, greedy token. */
function step(t: number, ids: number[], lps: number[]): CommittedStep {
  return { step: t, token: greedy(ids, lps), topIds: ids, topLogprobs: lps }
}

const distinctIds = (k: number, max = 0xffffffff) =>
  fc.uniqueArray(fc.integer({ min: 0, max }), { minLength: k, maxLength: k })
/** Log-probs drawn from few values so that ties are common. */
const tieHeavyLps = (k: number) =>
  fc.array(fc.constantFrom(0, -1, -LOGPROB_SCALE, -3 * LOGPROB_SCALE, MIN_QUANTISED_LOGPROB, -123_456_789), {
    minLength: k,
    maxLength: k,
  })

async function accepts(c: TestCircuit, input: Record<string, unknown>): Promise<boolean> {
  try {
    const w = await c.witness(input)
    return firstUnsatisfied(c.r1cs, w) === -1
  } catch {
    return false
  }
}

describe('GreedyStep (K = 4)', () => {
  let c: TestCircuit
  beforeAll(async () => {
    c = await compileTestCircuit('greedy_k4')
  })

  it('costs 31 + 63 K + (K − 1) constraints', () => {
    expect(c.r1cs.constraints.length).toBe(31 + 63 * 4 + 3)
  })

  it('accepts exactly the greedy token of the committed candidates (ties → lowest id)', async () => {
    await fc.assert(
      fc.asyncProperty(distinctIds(4, 40), tieHeavyLps(4), async (ids, lps) => {
        const expected = greedy(ids, lps)
        for (const token of ids) {
          expect(await accepts(c, { key: keys(ids, lps), token }), `token ${token} of ${ids} / ${lps}`).toBe(
            token === expected,
          )
        }
      }),
      { numRuns: 40 },
    )
  })

  it('rejects a token outside the committed candidates', async () => {
    const ids = [7, 3, 9, 1]
    const lps = [-100, -5, -200, -5]
    expect(await accepts(c, { key: keys(ids, lps), token: 1 })).toBe(true)
    expect(await accepts(c, { key: keys(ids, lps), token: 2 })).toBe(false)
  })

  it('rejects out-of-range values: a positive log-prob, a chosen log-prob below the Q16.16 range', async () => {
    const ids = [7, 3, 9, 1]
    // A log-prob above 0 is a negative nlp: its key wraps modulo p and no range check passes.
    expect(await accepts(c, { key: keys(ids, [-100, 65_536, -200, -300]), token: 7 })).toBe(false)
    expect(await accepts(c, { key: keys(ids, [-100, 65_536, -200, -300]), token: 3 })).toBe(false)
    // The chosen candidate's nlp must fit 31 bits.
    const far = [-(2 ** 31), -(2 ** 31) - 5, -(2 ** 31) - 6, -(2 ** 31) - 7]
    expect(await accepts(c, { key: keys(ids, far), token: 7 })).toBe(false)
  })

  it('an honest witness with its public token altered breaks a constraint', async () => {
    const ids = [7, 3, 9, 1]
    const lps = [-100, -5, -200, -7]
    const w = await c.witness({ key: keys(ids, lps), token: 3 })
    expect(firstUnsatisfied(c.r1cs, w)).toBe(-1)
    for (const other of [7n, 1n, 9n, 4n]) {
      const forged = [...w]
      forged[1] = other // wire 1: the public token
      expect(firstUnsatisfied(c.r1cs, forged)).toBeGreaterThanOrEqual(0)
    }
  })
})

describe('StepLeaf (K = 8)', () => {
  let c: TestCircuit
  beforeAll(async () => {
    c = await compileTestCircuit('leaf_k8')
  })

  it('computes the leaf @infraxa/zk computes', async () => {
    await fc.assert(
      fc.asyncProperty(
        distinctIds(8),
        fc.array(fc.integer({ min: MIN_QUANTISED_LOGPROB, max: 0 }), { minLength: 8, maxLength: 8 }),
        fc.integer({ min: 0, max: 0xffffffff }),
        async (ids, lps, t) => {
          const s = step(t, ids, lps)
          const w = await c.witness({ step: t, token: s.token, key: keys(ids, lps) })
          expect(firstUnsatisfied(c.r1cs, w)).toBe(-1)
          expect(w[1]).toBe(zkLeaf(s))
        },
      ),
      { numRuns: 12 },
    )
  })
})

describe('TranscriptWindow (T = 4, K = 4)', () => {
  let c: TestCircuit
  const T = 4
  const lpsAt = (t: number) => [-(t * 1000) - 10, -20_000, -5, -(t % 3) * 7]
  const idsAt = (t: number) => [t + 100, t + 200, t * 3 + 1, 50_000 + t]
  const steps = (from: number, n: number) =>
    Array.from({ length: n }, (_, i) => step(from + i, idsAt(from + i), lpsAt(from + i)))
  const input = (index: number, s: CommittedStep[], pad = (_i: number) => [0, 1, 2, 3]) => ({
    index,
    active: s.length,
    token: Array.from({ length: T }, (_, i) => s[i]?.token ?? 0),
    key: Array.from({ length: T }, (_, i) =>
      s[i] === undefined ? pad(i).map(String) : keys(s[i]!.topIds, s[i]!.topLogprobs),
    ),
  })

  beforeAll(async () => {
    c = await compileTestCircuit('window_t4_k4')
  })

  it('a full window: the root is the library’s window root', async () => {
    const s = steps(8, 4)
    const w = await c.witness(input(2, s))
    expect(firstUnsatisfied(c.r1cs, w)).toBe(-1)
    expect(w[1]).toBe(zkWindowRoot(s.map(zkLeaf), T))
  })

  it('a partial last window: padded steps add leaf 0 whatever the prover feeds them', async () => {
    const s = steps(4, 2)
    const expected = zkWindowRoot(s.map(zkLeaf), T)
    const w = await c.witness(input(1, s))
    expect(firstUnsatisfied(c.r1cs, w)).toBe(-1)
    expect(w[1]).toBe(expected)
    // Another dummy in the padding (still passing the greedy check) gives the same root.
    const other = await c.witness(input(1, s, (i) => [i + 9, 0, 70, 71]))
    expect(other[1]).toBe(expected)
  })

  it('rejects a non-greedy token in an active step, but not in padding', async () => {
    const s = steps(0, 3)
    const bad = input(0, s)
    bad.token[1] = s[1]!.topIds.find((id) => id !== s[1]!.token)!
    expect(await accepts(c, bad)).toBe(false)
  })

  it('an honest witness with its root, position, step count or a token altered breaks a constraint', async () => {
    const s = steps(4, 3)
    const w = await c.witness(input(1, s))
    expect(firstUnsatisfied(c.r1cs, w)).toBe(-1)
    // Wires: 0 = 1, 1 = root (output), 2 = index, 3 = active, 4.. = tokens, then the private keys.
    const alter = (wire: number, value: bigint) => {
      const forged = [...w]
      forged[wire] = value
      return firstUnsatisfied(c.r1cs, forged)
    }
    expect(alter(1, w[1]! + 1n)).toBeGreaterThanOrEqual(0) // wrong root
    expect(alter(2, 0n)).toBeGreaterThanOrEqual(0) // window 0 instead of 1
    expect(alter(2, 2n)).toBeGreaterThanOrEqual(0)
    expect(alter(3, 4n)).toBeGreaterThanOrEqual(0) // claims 4 steps
    expect(alter(3, 2n)).toBeGreaterThanOrEqual(0) // claims 2 steps
    expect(alter(4, BigInt(s[0]!.topIds[1]!))).toBeGreaterThanOrEqual(0) // another token
    expect(alter(6, BigInt(s[2]!.token) + 1n)).toBeGreaterThanOrEqual(0)
  })

  it('refuses a step count above T', async () => {
    const s = steps(0, 4)
    expect(await accepts(c, { ...input(0, s), active: 5 })).toBe(false)
  })
})

describe('TranscriptWindow (T = 32: two 16-leaf chunks, K = 2)', () => {
  it('the root is the library’s window root', async () => {
    const c = await compileTestCircuit('window_t32_k2')
    const s = Array.from({ length: 20 }, (_, t) => step(32 + t, [t, t + 1000], [-(t % 5) * 3, -7]))
    const w = await c.witness({
      index: 1,
      active: 20,
      token: Array.from({ length: 32 }, (_, i) => s[i]?.token ?? 0),
      key: Array.from({ length: 32 }, (_, i) =>
        s[i] === undefined ? ['0', '1'] : keys(s[i]!.topIds, s[i]!.topLogprobs),
      ),
    })
    expect(firstUnsatisfied(c.r1cs, w)).toBe(-1)
    expect(w[1]).toBe(zkWindowRoot(s.map(zkLeaf), 32))
  })
})

const vectors = poseidonGumbelVectors().cases

/** A vector's candidates in canonical order (ascending key), as the circuit takes them. */
function canonical(v: { ids: readonly number[]; logprobs: readonly number[] }) {
  const order = canonicalOrder(v.ids, v.logprobs)
  return { ids: order.map((i) => v.ids[i]!), logprobs: order.map((i) => v.logprobs[i]!) }
}

describe('SampledStep (K = 8): the Poseidon-Gumbel rule, on the shared test vectors', () => {
  let c: TestCircuit
  beforeAll(async () => {
    c = await compileTestCircuit('sampled_step_k8')
  })

  it('accepts exactly the vector’s token among the committed candidates', async () => {
    for (const v of vectors) {
      const { ids, logprobs } = canonical(v)
      const base = { key: keys(ids, logprobs), step: v.step, seed: v.seed, tau: v.tau }
      for (const token of ids) {
        expect(await accepts(c, { ...base, token }), `token ${token} of vector ${v.seed}/${v.step}`).toBe(
          token === v.token,
        )
      }
    }
  })

  it('refuses candidates out of canonical order, and another seed, step or temperature', async () => {
    // A vector whose token differs from the greedy one, so the noise decides.
    const v = vectors.find(
      (x) => x.token !== sampleToken(x.ids, x.logprobs, { temperature: 0, seed: 0n }, 0),
    )!
    const { ids, logprobs } = canonical(v)
    const honest = { key: keys(ids, logprobs), token: v.token, step: v.step, seed: v.seed, tau: v.tau }
    expect(await accepts(c, honest)).toBe(true)
    const swapped = [...honest.key]
    ;[swapped[0], swapped[1]] = [swapped[1]!, swapped[0]!]
    expect(await accepts(c, { ...honest, key: swapped })).toBe(false)
    // Public signals altered in an honest witness: wires 1 = token, 2 = step, 3 = seed, 4 = tau.
    const w = await c.witness(honest)
    expect(firstUnsatisfied(c.r1cs, w)).toBe(-1)
    for (const [wire, value] of [
      [1, BigInt(ids.find((id) => id !== v.token)!)],
      [2, BigInt(v.step + 1)],
      [3, BigInt(v.seed) + 1n],
      [4, BigInt(v.tau * 3)],
    ] as const) {
      const forged = [...w]
      forged[wire] = value
      expect(firstUnsatisfied(c.r1cs, forged), `wire ${wire}`).toBeGreaterThanOrEqual(0)
    }
  })

  it('random steps: the circuit picks what the library picks', async () => {
    await fc.assert(
      fc.asyncProperty(
        distinctIds(8, 60),
        tieHeavyLps(8),
        fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
        fc.integer({ min: 0, max: 2 ** 20 }),
        fc.constantFrom(0.05, 0.8, 1, 3),
        async (rawIds, rawLps, seed, t, temperature) => {
          const { ids, logprobs } = canonical({ ids: rawIds, logprobs: rawLps })
          const expected = sampleToken(ids, logprobs, { temperature, seed, rule: 'poseidon-gumbel' }, t)
          const base = { key: keys(ids, logprobs), step: t, seed, tau: quantiseTemperature(temperature) }
          expect(await accepts(c, { ...base, token: expected })).toBe(true)
          const other = ids.find((id) => id !== expected)!
          expect(await accepts(c, { ...base, token: other })).toBe(false)
        },
      ),
      { numRuns: 12 },
    )
  })
})

describe('SampledWindow (T = 2, K = 8)', () => {
  let c: TestCircuit
  const T = 2
  const seed = 42n
  const temperature = 0.9
  const sampledStep = (t: number): CommittedStep => {
    const { ids, logprobs } = canonical({
      ids: Array.from({ length: 8 }, (_, i) => (t * 7919 + i * 104_729) % 32_000),
      logprobs: Array.from({ length: 8 }, (_, i) => -Math.round((i * 0.6 + (t % 3) * 0.1) * LOGPROB_SCALE)),
    })
    const token = sampleToken(ids, logprobs, { temperature, seed, rule: 'poseidon-gumbel' }, t)
    return { step: t, token, topIds: ids, topLogprobs: logprobs }
  }
  // The padding the prover feeds: token 0 at log-prob 0, ids 1..7 far below.
  const pad = Array.from({ length: 8 }, (_, i) => (i === 0 ? '0' : candidateKey(i, -(2 ** 30)).toString()))
  const input = (index: number, s: CommittedStep[]) => ({
    index,
    active: s.length,
    seed,
    tau: quantiseTemperature(temperature),
    token: Array.from({ length: T }, (_, i) => s[i]?.token ?? 0),
    key: Array.from({ length: T }, (_, i) =>
      s[i] === undefined ? pad : keys(s[i]!.topIds, s[i]!.topLogprobs),
    ),
  })

  beforeAll(async () => {
    c = await compileTestCircuit('sampled_t2_k8')
  })

  it('full and partial windows: the root is the library’s window root', async () => {
    const full = [sampledStep(6), sampledStep(7)]
    const w = await c.witness(input(3, full))
    expect(firstUnsatisfied(c.r1cs, w)).toBe(-1)
    expect(w[1]).toBe(zkWindowRoot(full.map(zkLeaf), T))
    const partial = [sampledStep(8)]
    const p = await c.witness(input(4, partial))
    expect(firstUnsatisfied(c.r1cs, p)).toBe(-1)
    expect(p[1]).toBe(zkWindowRoot(partial.map(zkLeaf), T))
  })

  it('rejects another candidate than the sampled one', async () => {
    const s = [sampledStep(10), sampledStep(11)]
    const bad = input(5, s)
    bad.token[1] = s[1]!.topIds.find((id) => id !== s[1]!.token)!
    expect(await accepts(c, bad)).toBe(false)
  })
})
