import type { DishonestBehaviour } from '@infraxa/provider'

type ForgeStep = NonNullable<DishonestBehaviour['forgeStep']>

/** Whether step t of a job is one a forgery with this fraction touches (deterministic per seed and job). */
function touches(fraction: number, seed: number, t: number): boolean {
  // A small integer hash (Murmur3 finaliser) of (seed, t) mapped to [0, 1).
  let h = Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(t + 1, 0xc2b2ae35)
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b)
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35)
  return ((h ^ (h >>> 16)) >>> 0) / 2 ** 32 < fraction
}

/**
 * TEST DOUBLE (attack): at greedy steps where the runner-up is within `gap` nats of the top, choose the
 * runner-up and commit log-probs nudged by the least that makes it the argmax (each moved by about half
 * the gap), so every opened step passes the per-step tolerance. The cheapest cheat a per-step check lets
 * through ("stealth" near-tie forgery).
 */
export function nearTieForgery({ gap = 0.2, fraction = 1, seed = 1 } = {}): ForgeStep {
  let job = 0
  return (t, topK) => {
    if (t === 0) job++
    const [first, second] = topK
    if (first === undefined || second === undefined) return undefined
    if (first.logprob - second.logprob >= gap || !touches(fraction, seed * 1_000_003 + job, t))
      return undefined
    const middle = (first.logprob + second.logprob) / 2
    const forged = topK.map((e) =>
      e.id === second.id
        ? { id: e.id, logprob: middle + 1e-4 }
        : e.id === first.id
          ? { id: e.id, logprob: middle - 1e-4 }
          : { ...e },
    )
    forged.sort((a, b) => b.logprob - a.logprob)
    return { token: second.id, topK: forged }
  }
}

/**
 * TEST DOUBLE (attack): on a fraction of steps, commit another token of the top-k than the sampler's
 * (honest distribution committed alongside), e.g. to shorten or steer an answer.
 */
export function randomTokenForgery({ fraction, seed = 1 }: { fraction: number; seed?: number }): ForgeStep {
  let job = 0
  return (t, topK, token) => {
    // Other steps in every job (a new job starts at step 0).
    if (t === 0) job++
    if (!touches(fraction, seed * 1_000_003 + job, t)) return undefined
    const others = topK.filter((e) => e.id !== token)
    const pick = others[(t * 7 + seed) % others.length]
    return pick === undefined ? undefined : { token: pick.id }
  }
}
