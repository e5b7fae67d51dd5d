import { BusyError } from './errors.js'

/**
 * Places for one model's jobs: `parallel` decoding at once and `maxQueued` waiting (in order) behind
 * them, shared between peers so that no single peer can take them all. One peer may hold every place
 * but `reserve`, which stay open for other peers: a flood from one identity fills its own share and is
 * answered ERR_BUSY (with a retry-after hint), while another peer — a router with an honest client —
 * still gets in. The reserve never eats into the decoding sequences (it is at most `maxQueued`), so a
 * provider serving a single router still decodes `parallel` jobs at once.
 */
export class Admission {
  readonly parallel: number
  readonly capacity: number
  readonly reserve: number
  #active = 0
  readonly #byPeer = new Map<string, number>()

  /** `reserve` defaults to a quarter of the places (at least 1). */
  constructor(
    parallel: number,
    maxQueued: number,
    reserve: number | undefined = Math.max(1, Math.floor((parallel + maxQueued) / 4)),
  ) {
    this.parallel = parallel
    this.capacity = parallel + maxQueued
    this.reserve = Math.min(maxQueued, Math.max(0, reserve))
  }

  /** Jobs admitted and not yet released (decoding or waiting). */
  get active(): number {
    return this.#active
  }

  /**
   * Takes a place for a job of `peer`; returns its release (idempotent).
   *
   * @throws {BusyError} every place is taken, or `peer` already holds its share
   */
  enter(peer: string): () => void {
    const mine = this.#byPeer.get(peer) ?? 0
    if (this.#active >= this.capacity || mine >= this.capacity - this.reserve) {
      const waiting = Math.max(0, this.#active - this.parallel)
      // About one job's time per round of the queue ahead.
      throw new BusyError(
        this.parallel,
        waiting,
        Math.min(30_000, 500 * Math.ceil((waiting + 1) / this.parallel)),
      )
    }
    this.#active++
    this.#byPeer.set(peer, mine + 1)
    let released = false
    return () => {
      if (released) return
      released = true
      this.#active--
      const left = (this.#byPeer.get(peer) ?? 1) - 1
      if (left === 0) this.#byPeer.delete(peer)
      else this.#byPeer.set(peer, left)
    }
  }
}
