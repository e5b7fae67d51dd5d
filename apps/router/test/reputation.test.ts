import { DatabaseSync } from 'node:sqlite'
import { describe, expect, it } from 'vitest'
import { pickProvider, pickWithExploration, ReputationBook, selectionScore } from '../src/index.js'

describe('reputation', () => {
  it('starts new identities at the prior, on probation, and lets them out after N clean jobs', () => {
    const book = new ReputationBook(new DatabaseSync(':memory:'), { probationJobs: 3, now: () => 0 })
    expect(book.get('p')).toMatchObject({ score: 0.5, onProbation: true, banned: false, totalJobs: 0 })
    for (let i = 0; i < 3; i++) book.record('p', 'success')
    expect(book.get('p')).toMatchObject({ cleanJobs: 3, onProbation: false })
    expect(book.get('p').score).toBeCloseTo(4 / 5, 10)
  })

  it('weighs failures by severity and bans on a failed audit or fraud', () => {
    const book = new ReputationBook(new DatabaseSync(':memory:'))
    for (let i = 0; i < 20; i++) book.record('a', 'success')
    book.record('a', 'timeout')
    const afterTimeout = book.get('a')
    expect(afterTimeout.banned).toBe(false)
    book.record('a', 'failed_audit', { reason: 'step 3 diverged' })
    const after = book.get('a')
    expect(after.banned).toBe(true)
    expect(after.banReason).toMatch(/step 3 diverged/)
    expect(after.score).toBeLessThan(0.5)
    expect(after.score).toBeLessThan(afterTimeout.score)
    book.record('b', 'fraud')
    expect(book.get('b').banned).toBe(true)
  })

  it('lifts a ban on an operator’s pardon, keeping the score and recording why', () => {
    const book = new ReputationBook(new DatabaseSync(':memory:'))
    book.record('a', 'failed_audit', { reason: 'x' })
    const banned = book.get('a')
    const pardoned = book.pardon('a', 'false accusation shown')
    expect(pardoned.banned).toBe(false)
    // The score decays with time (half-life 6 h): the same up to the milliseconds between the reads.
    expect(pardoned.score).toBeCloseTo(banned.score, 6)
    expect(book.events('a')[0]).toMatchObject({ event: 'pardon', reason: 'false accusation shown' })
  })

  it('decays evidence with the half-life but never a ban', () => {
    let now = 0
    const book = new ReputationBook(new DatabaseSync(':memory:'), { halfLifeMs: 1000, now: () => now })
    for (let i = 0; i < 10; i++) book.record('a', 'success')
    const fresh = book.get('a').alpha
    now = 1000
    expect(book.get('a').alpha - 1).toBeCloseTo((fresh - 1) / 2, 10)
    book.record('a', 'failed_audit')
    now = 1e9
    expect(book.get('a').banned).toBe(true)
  })

  it('persists across reopening the database', () => {
    const path = `/tmp/infraxa-rep-${process.pid}.sqlite`
    let db = new DatabaseSync(path)
    new ReputationBook(db).record('x', 'failed_audit', { jobId: 'j1' })
    db.close()
    db = new DatabaseSync(path)
    const book = new ReputationBook(db)
    expect(book.get('x').banned).toBe(true)
    expect(book.events('x')[0]).toMatchObject({ event: 'failed_audit', jobId: 'j1' })
    db.close()
  })
})

describe('selection', () => {
  const c = (peerId: string, score: number, load: number, latencyMs?: number) => ({
    peerId,
    score,
    load,
    latencyMs,
  })

  it('prefers reputation, then low load and latency', () => {
    expect(selectionScore(c('a', 0.9, 0, 100))).toBeGreaterThan(selectionScore(c('b', 0.6, 0, 100)))
    expect(selectionScore(c('a', 0.9, 0, 100))).toBeGreaterThan(selectionScore(c('b', 0.9, 1, 100)))
    expect(selectionScore(c('a', 0.9, 0, 100))).toBeGreaterThan(selectionScore(c('b', 0.9, 0, 2000)))
  })

  it('power-of-two-choices spreads load over equal providers and never picks the worse of a pair', () => {
    const list = Array.from({ length: 10 }, (_, i) => c(`p${i}`, 0.8, 0, 100))
    const counts = new Map<string, number>()
    let seed = 1
    const random = () => {
      seed = (seed * 16807) % 2147483647
      return seed / 2147483647
    }
    for (let i = 0; i < 5000; i++) {
      const p = pickProvider(list, random)!
      counts.set(p.peerId, (counts.get(p.peerId) ?? 0) + 1)
    }
    expect(counts.size).toBe(10)
    expect(Math.min(...counts.values())).toBeGreaterThan(300)
    const pair = [c('good', 0.9, 0, 50), c('bad', 0.2, 0.9, 900)]
    for (let i = 0; i < 50; i++) expect(pickProvider(pair, random)!.peerId).toBe('good')
    expect(pickProvider([])).toBeUndefined()
  })

  it('tries a provider never measured instead of herding onto one measured once on short jobs', () => {
    let seed = 3
    const random = () => {
      seed = (seed * 16807) % 2147483647
      return seed / 2147483647
    }
    // Both trusted, same score: one served a 40 ms job, the other has not served yet.
    const pair = [c('measured', 0.9, 0, 40), c('fresh', 0.9, 0)]
    let toFresh = 0
    for (let i = 0; i < 1000; i++) if (pickProvider(pair, random)!.peerId === 'fresh') toFresh++
    expect(toFresh).toBeGreaterThan(300)
    // Once measured, it competes on what was measured.
    const measuredBoth = [c('measured', 0.9, 0, 40), c('slow', 0.9, 0, 900)]
    for (let i = 0; i < 50; i++) expect(pickProvider(measuredBoth, random)!.peerId).toBe('measured')
    // With nothing measured, the default guess (250 ms) is the same for all: reputation decides.
    expect(selectionScore(c('x', 0.9, 0))).toBe(selectionScore(c('y', 0.9, 0, 250)))
  })

  it('gives newcomers a bounded share beside a trusted provider (fair probation, Sybils capped)', () => {
    let seed = 7
    const random = () => {
      seed = (seed * 16807) % 2147483647
      return seed / 2147483647
    }
    const trusted = { ...c('trusted', 0.97, 0, 50), onProbation: false }
    const one = [trusted, { ...c('new', 0.6, 0, 200), onProbation: true }]
    let toNew = 0
    for (let i = 0; i < 4000; i++) if (pickWithExploration(one, 0.1, random)!.peerId === 'new') toNew++
    // A measured score would always beat the newcomer's: now it gets its share, no more.
    expect(toNew / 4000).toBeGreaterThan(0.08)
    expect(toNew / 4000).toBeLessThan(0.12)
    const sybils = [
      trusted,
      ...Array.from({ length: 50 }, (_, i) => ({ ...c(`s${i}`, 0.9, 0, 10), onProbation: true })),
    ]
    let toSybils = 0
    for (let i = 0; i < 4000; i++)
      if (pickWithExploration(sybils, 0.1, random)!.peerId !== 'trusted') toSybils++
    expect(toSybils / 4000).toBeLessThan(0.12)
    // Only newcomers: they get everything (the network must start somewhere).
    expect(pickWithExploration(one.slice(1), 0.1, random)!.peerId).toBe('new')
  })
})
