import { describe, expect, it } from 'vitest'
import { expectedJobMs, observeLatency, type ProviderLatency, WEIGHED_TOKENS } from '../src/latency.js'
import { pickProvider } from '../src/selection.js'

/** A provider streaming at `perTokenMs` after `firstTokenMs`, as the router times its token frames. */
const job = (tokens: number, firstTokenMs: number, perTokenMs: number) => ({
  firstTokenMs,
  streamMs: perTokenMs * (tokens - 1),
  tokens,
})

const seeded = (seed: number) => () => {
  seed = (seed * 16807) % 2147483647
  return seed / 2147483647
}

describe('provider latency', () => {
  it('compares providers, not the lengths of the jobs they happened to serve', () => {
    // Same speed (40 ms to the first token, 10 ms a token): one served a 256-token job, the other
    // 16-token ones. As whole jobs they took 2,590 and 190 ms.
    const long = observeLatency(undefined, job(256, 40, 10))
    let short: ProviderLatency | undefined
    for (let i = 0; i < 3; i++) short = observeLatency(short, job(16, 40, 10))
    expect(long?.perTokenMs).toBeCloseTo(10, 9)
    expect(short?.perTokenMs).toBeCloseTo(10, 9)
    const candidates = [
      { peerId: 'served-long', score: 0.9, load: 0, latencyMs: expectedJobMs(long, 64) },
      { peerId: 'served-short', score: 0.9, load: 0, latencyMs: expectedJobMs(short, 64) },
    ]
    const random = seeded(11)
    let toLong = 0
    for (let i = 0; i < 2000; i++) if (pickProvider(candidates, random)!.peerId === 'served-long') toLong++
    // Equal expected times: the draw decides (about half each). With whole-job times it was 0.
    expect(toLong / 2000).toBeGreaterThan(0.4)
    expect(toLong / 2000).toBeLessThan(0.6)
    const wholeJob = [
      { peerId: 'served-long', score: 0.9, load: 0, latencyMs: 2590 },
      { peerId: 'served-short', score: 0.9, load: 0, latencyMs: 190 },
    ]
    for (let i = 0; i < 50; i++) expect(pickProvider(wholeJob, random)!.peerId).toBe('served-short')
  })

  it('still prefers the faster provider, at the request length', () => {
    const fast = observeLatency(undefined, job(32, 50, 8))
    const slow = observeLatency(undefined, job(32, 20, 30))
    // A one-token request: the slow streamer answers first.
    expect(expectedJobMs(slow, 1)!).toBeLessThan(expectedJobMs(fast, 1)!)
    // 64 tokens: 50 + 63 × 8 = 554 against 20 + 63 × 30 = 1,910.
    expect(expectedJobMs(fast, 64)).toBeCloseTo(554, 9)
    expect(expectedJobMs(slow, 64)).toBeCloseTo(1910, 9)
    const random = seeded(5)
    const pair = [
      { peerId: 'fast', score: 0.9, load: 0, latencyMs: expectedJobMs(fast, 64) },
      { peerId: 'slow', score: 0.9, load: 0, latencyMs: expectedJobMs(slow, 64) },
    ]
    for (let i = 0; i < 50; i++) expect(pickProvider(pair, random)!.peerId).toBe('fast')
    // The default max_tokens (4096) is weighed at WEIGHED_TOKENS, not 4096 steps.
    expect(expectedJobMs(fast, 4096)).toBeCloseTo(50 + (WEIGHED_TOKENS - 1) * 8, 9)
  })

  it('moves averages by a fifth a job and ignores jobs that tell nothing', () => {
    let l = observeLatency(undefined, job(11, 100, 10))
    l = observeLatency(l, job(11, 200, 20))
    expect(l).toEqual({ firstTokenMs: 120, perTokenMs: 12 })
    // No token streamed: unchanged. One token: a first-token time, no per-token time.
    expect(observeLatency(l, { firstTokenMs: 9999, streamMs: 0, tokens: 0 })).toBe(l)
    const one = observeLatency(undefined, { firstTokenMs: 30, streamMs: 0, tokens: 1 })
    expect(one).toEqual({ firstTokenMs: 30, perTokenMs: undefined })
    // Never measured on 2+ tokens: no estimate (selection counts it as the fastest measured).
    expect(expectedJobMs(one, 64)).toBeUndefined()
    expect(expectedJobMs(undefined, 64)).toBeUndefined()
    expect(observeLatency(one, job(3, 30, 5))?.perTokenMs).toBe(5)
  })
})
