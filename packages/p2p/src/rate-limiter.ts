import { InvalidArgumentError } from '@infraxa/protocol'

/** A token bucket per peer: `burst` tokens at most, refilled at `perSecond` tokens per second. */
export interface RateLimitOptions {
  /**
   * Tokens a peer starts with and can save up: the largest burst of streams it may open at once.
   *
   * @default 1024
   */
  burst?: number
  /**
   * Tokens added per second: the sustained rate of streams per peer.
   *
   * @default 512
   */
  perSecond?: number
  /**
   * Peers tracked at once; the least recently seen is forgotten beyond this (it starts again with a full
   * bucket), which bounds memory under a flood of peer ids.
   *
   * @default 10_000
   */
  maxPeers?: number
}

/** Outcome of {@link PeerRateLimiter.take}. */
export type RateLimitVerdict = { allowed: true } | { allowed: false; retryAfterMs: number }

interface Bucket {
  tokens: number
  updatedMs: number
}

/**
 * Per-peer token buckets. Each stream a peer opens costs one token; a peer with an empty bucket is
 * refused (and told when to retry) while other peers are unaffected.
 *
 * @example
 * const limiter = new PeerRateLimiter({ burst: 20, perSecond: 10 })
 * const verdict = limiter.take(peerId.toString())
 * if (!verdict.allowed) console.log(`retry in ${verdict.retryAfterMs} ms`)
 */
export class PeerRateLimiter {
  readonly burst: number
  readonly perSecond: number
  readonly maxPeers: number
  readonly #buckets = new Map<string, Bucket>()
  readonly #now: () => number

  constructor(options: RateLimitOptions = {}, now: () => number = () => performance.now()) {
    this.burst = options.burst ?? 1024
    this.perSecond = options.perSecond ?? 512
    this.maxPeers = options.maxPeers ?? 10_000
    if (!(this.burst >= 1) || !(this.perSecond > 0) || !(this.maxPeers >= 1)) {
      throw new InvalidArgumentError('rate limit: burst and maxPeers must be >= 1 and perSecond > 0')
    }
    this.#now = now
  }

  /** Takes `cost` tokens from `peer`'s bucket if it has them. */
  take(peer: string, cost = 1): RateLimitVerdict {
    const now = this.#now()
    const bucket = this.#buckets.get(peer) ?? { tokens: this.burst, updatedMs: now }
    bucket.tokens = Math.min(this.burst, bucket.tokens + ((now - bucket.updatedMs) * this.perSecond) / 1000)
    bucket.updatedMs = now
    // Re-insert so the map's order is least recently seen first.
    this.#buckets.delete(peer)
    this.#buckets.set(peer, bucket)
    if (this.#buckets.size > this.maxPeers) {
      const oldest = this.#buckets.keys().next().value
      if (oldest !== undefined) this.#buckets.delete(oldest)
    }
    if (bucket.tokens >= cost) {
      bucket.tokens -= cost
      return { allowed: true }
    }
    return { allowed: false, retryAfterMs: Math.ceil(((cost - bucket.tokens) * 1000) / this.perSecond) }
  }

  /** Number of peers currently tracked. */
  get trackedPeers(): number {
    return this.#buckets.size
  }
}
