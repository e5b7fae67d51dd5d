import { describe, expect, it } from 'vitest'
import { PeerRateLimiter } from '../src/index.js'

function clock() {
  let now = 0
  return { now: () => now, advance: (ms: number) => (now += ms) }
}

describe('PeerRateLimiter', () => {
  it('allows a burst, then refuses with the time until the next token', () => {
    const time = clock()
    const limiter = new PeerRateLimiter({ burst: 3, perSecond: 2 }, time.now)
    expect([1, 2, 3].map(() => limiter.take('a').allowed)).toEqual([true, true, true])
    expect(limiter.take('a')).toEqual({ allowed: false, retryAfterMs: 500 })
    time.advance(250)
    expect(limiter.take('a')).toEqual({ allowed: false, retryAfterMs: 250 })
    time.advance(250)
    expect(limiter.take('a').allowed).toBe(true)
  })

  it('keeps peers apart', () => {
    const time = clock()
    const limiter = new PeerRateLimiter({ burst: 1, perSecond: 1 }, time.now)
    expect(limiter.take('flooder').allowed).toBe(true)
    expect(limiter.take('flooder').allowed).toBe(false)
    expect(limiter.take('polite').allowed).toBe(true)
  })

  it('refills up to the burst only', () => {
    const time = clock()
    const limiter = new PeerRateLimiter({ burst: 2, perSecond: 100 }, time.now)
    limiter.take('a')
    time.advance(60_000)
    expect([1, 2, 3].map(() => limiter.take('a').allowed)).toEqual([true, true, false])
  })

  it('forgets the least recently seen peer beyond maxPeers', () => {
    const limiter = new PeerRateLimiter({ burst: 1, perSecond: 1, maxPeers: 2 }, () => 0)
    limiter.take('a')
    limiter.take('b')
    limiter.take('a')
    limiter.take('c')
    expect(limiter.trackedPeers).toBe(2)
    // 'a' was seen recently and stays empty; 'b' was forgotten and starts again with a full bucket.
    expect(limiter.take('a').allowed).toBe(false)
    expect(limiter.take('b').allowed).toBe(true)
  })

  it('rejects nonsensical settings', () => {
    expect(() => new PeerRateLimiter({ burst: 0 })).toThrow(/burst/)
    expect(() => new PeerRateLimiter({ perSecond: 0 })).toThrow(/perSecond/)
  })
})
