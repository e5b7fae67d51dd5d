import { DatabaseSync } from 'node:sqlite'
import { describe, expect, it } from 'vitest'
import { TokenEvidence } from '../src/index.js'

/** Deterministic uniform numbers in [0, 1) (mulberry32), so the simulated jobs are the same every run. */
function random(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32
  }
}

/** A job of `steps` tokens, each a mismatch with probability `rate`. */
function job(next: () => number, steps: number, rate: number) {
  let mismatches = 0
  for (let i = 0; i < steps; i++) if (next() < rate) mismatches++
  return { steps, mismatches }
}

describe('token evidence across jobs (sequential test)', () => {
  it('never accuses providers whose mismatches come at the honest rate: 100 providers × 300 jobs', () => {
    const evidence = new TokenEvidence(new DatabaseSync(':memory:'))
    const next = random(1)
    let accused = 0
    for (let p = 0; p < 100; p++)
      for (let j = 0; j < 300; j++)
        if (evidence.add(`honest-${p}`, job(next, 32, 1e-2), 1e-2).reason !== undefined) accused++
    expect(accused).toBe(0)
  })

  it('concludes a cheat that stays grey or passing in every single job: two near-tie swaps per 32 tokens', () => {
    const evidence = new TokenEvidence(new DatabaseSync(':memory:'))
    // At rate 1e-2, 2 of 32 has p ≈ 0.04 per job: no single job would ever be failed for it.
    let jobs = 0
    let result: ReturnType<TokenEvidence['add']>
    do {
      result = evidence.add('cheat', { steps: 32, mismatches: 2 }, 1e-2)
      jobs++
    } while (result.reason === undefined && jobs < 100)
    expect(result.reason).toMatch(/over its \d+ scored jobs are not the sampler's pick/)
    expect(jobs).toBeLessThanOrEqual(10)
    expect(result.pValue).toBeLessThan(1e-8)
  })

  it('keeps totals per noise rate, persists them, and forgets on clear', () => {
    const db = new DatabaseSync(':memory:')
    new TokenEvidence(db).add('p', { steps: 32, mismatches: 1 }, 1e-2)
    new TokenEvidence(db).add('p', { steps: 16, mismatches: 0 }, 1e-3)
    const again = new TokenEvidence(db)
    again.add('p', { steps: 32, mismatches: 0 }, 1e-2)
    expect(again.of('p')).toEqual([
      { mismatchRate: 1e-3, jobs: 1, steps: 16, mismatches: 0 },
      { mismatchRate: 1e-2, jobs: 2, steps: 64, mismatches: 1 },
    ])
    again.clear('p')
    expect(again.of('p')).toEqual([])
  })

  it('rejects impossible job records with a RangeError', () => {
    const evidence = new TokenEvidence(new DatabaseSync(':memory:'))
    expect(() => evidence.add('p', { steps: 4, mismatches: 5 }, 1e-2)).toThrow(RangeError)
    expect(() => evidence.add('p', { steps: -1, mismatches: 0 }, 1e-2)).toThrow(RangeError)
    expect(() => evidence.add('p', { steps: Number.NaN, mismatches: 0 }, 1e-2)).toThrow(RangeError)
  })
})
