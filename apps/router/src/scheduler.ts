/**
 * Admission control of the router: how many completions wait per model (bounded: past it the client
 * gets 429 with Retry-After), how many jobs the router has in flight on each provider (live load,
 * fresher than the provider's last capability record), which providers said they are busy and until
 * when, and a wake-up for requests waiting for capacity. Busy is never a fault: it costs no reputation,
 * and a request waits (up to its deadline) instead of failing.
 */
export class Scheduler {
  readonly #pending = new Map<string, number>()
  readonly #inFlight = new Map<string, number>()
  readonly #busyUntil = new Map<string, number>()
  #waiters: Array<() => void> = []
  readonly maxPendingPerModel: number

  /** @param maxPendingPerModel - completions that may wait or run per model at once. */
  constructor(maxPendingPerModel: number) {
    this.maxPendingPerModel = maxPendingPerModel
  }

  /** Takes a place in the model's queue; false when it is full. Give it back with {@link leave}. */
  enter(model: string): boolean {
    const n = this.#pending.get(model) ?? 0
    if (n >= this.maxPendingPerModel) return false
    this.#pending.set(model, n + 1)
    return true
  }

  leave(model: string): void {
    const n = (this.#pending.get(model) ?? 1) - 1
    if (n <= 0) this.#pending.delete(model)
    else this.#pending.set(model, n)
  }

  pending(model: string): number {
    return this.#pending.get(model) ?? 0
  }

  /** Completions waiting or running, over all models. */
  get pendingTotal(): number {
    let n = 0
    for (const v of this.#pending.values()) n += v
    return n
  }

  /** Jobs this router runs on providers now, over all providers. */
  get inFlightTotal(): number {
    let n = 0
    for (const v of this.#inFlight.values()) n += v
    return n
  }

  /** Jobs this router runs on the provider now. */
  inFlight(peerId: string): number {
    return this.#inFlight.get(peerId) ?? 0
  }

  /** Counts a job on the provider until the returned function is called (once). */
  start(peerId: string): () => void {
    this.#inFlight.set(peerId, this.inFlight(peerId) + 1)
    let done = false
    return () => {
      if (done) return
      done = true
      const n = this.inFlight(peerId) - 1
      if (n <= 0) this.#inFlight.delete(peerId)
      else this.#inFlight.set(peerId, n)
      this.#wake()
    }
  }

  /** The provider answered busy: not selected again before `retryAfterMs` (at least 50 ms). */
  markBusy(peerId: string, retryAfterMs: number, now = Date.now()): void {
    this.#busyUntil.set(peerId, now + Math.max(50, retryAfterMs))
  }

  isBusy(peerId: string, now = Date.now()): boolean {
    const until = this.#busyUntil.get(peerId)
    if (until === undefined) return false
    if (until > now) return true
    this.#busyUntil.delete(peerId)
    return false
  }

  /** When the earliest busy provider expects capacity (ms from now), if any is busy. */
  nextFreeInMs(now = Date.now()): number | undefined {
    let best: number | undefined
    for (const until of this.#busyUntil.values()) {
      if (until > now && (best === undefined || until - now < best)) best = until - now
    }
    return best
  }

  /**
   * Resolves when a job finishes anywhere, after `maxMs`, or when `signal` aborts — whichever is first:
   * a waiting request then looks for capacity again.
   */
  waitForCapacity(maxMs: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer)
        signal?.removeEventListener('abort', done)
        this.#waiters = this.#waiters.filter((w) => w !== done)
        resolve()
      }
      const timer = setTimeout(done, Math.max(1, maxMs))
      signal?.addEventListener('abort', done, { once: true })
      this.#waiters.push(done)
    })
  }

  #wake(): void {
    const waiters = this.#waiters
    this.#waiters = []
    for (const w of waiters) w()
  }
}
