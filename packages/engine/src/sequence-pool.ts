import type { LlamaContextSequence } from 'node-llama-cpp'

/** One sequence of the context, and the tokens its last replay left in its KV cache. */
export interface SequenceSlot {
  readonly sequence: LlamaContextSequence
  /** Tokens a replay left in the cache ([] after anything else). */
  replayed: number[]
}

/**
 * The sequences of one llama.cpp context, lent one job at a time each, first come first served. Jobs on
 * different sequences run at once and llama.cpp batches their tokens into one decode.
 */
export class SequencePool {
  readonly #free: SequenceSlot[]
  readonly #waiting: Array<{ prefer?: (slot: SequenceSlot) => number; grant: (slot: SequenceSlot) => void }> =
    []
  readonly size: number

  constructor(sequences: readonly LlamaContextSequence[]) {
    this.#free = sequences.map((sequence) => ({ sequence, replayed: [] }))
    this.size = sequences.length
  }

  /** Sequences lent out now. */
  get busy(): number {
    return this.size - this.#free.length
  }

  /** Jobs waiting for a sequence. */
  get waiting(): number {
    return this.#waiting.length
  }

  /**
   * Waits for a free sequence (in arrival order); among free ones takes the one `prefer` scores highest
   * (e.g. whose cache a replay can keep). Resolves to the slot and the function that returns it; rejects
   * with the signal's reason, leaving the queue, when `signal` aborts first.
   */
  acquire(
    prefer?: (slot: SequenceSlot) => number,
    signal?: AbortSignal,
  ): Promise<{ slot: SequenceSlot; release: () => void }> {
    return new Promise((resolve, reject) => {
      if (signal?.aborted) {
        reject(signal.reason)
        return
      }
      const grant = (slot: SequenceSlot) => {
        let released = false
        resolve({
          slot,
          release: () => {
            if (released) return
            released = true
            this.#give(slot)
          },
        })
      }
      if (this.#free.length > 0 && this.#waiting.length === 0) {
        grant(this.#take(prefer))
        return
      }
      const waiter = {
        ...(prefer && { prefer }),
        grant: (slot: SequenceSlot) => {
          signal?.removeEventListener('abort', onAbort)
          grant(slot)
        },
      }
      // A job given up while it waits leaves the queue at once.
      const onAbort = () => {
        const at = this.#waiting.indexOf(waiter)
        if (at >= 0) this.#waiting.splice(at, 1)
        reject(signal!.reason)
      }
      signal?.addEventListener('abort', onAbort, { once: true })
      this.#waiting.push(waiter)
    })
  }

  #take(prefer?: (slot: SequenceSlot) => number): SequenceSlot {
    let best = 0
    if (prefer) {
      let bestScore = Number.NEGATIVE_INFINITY
      this.#free.forEach((slot, i) => {
        const score = prefer(slot)
        if (score > bestScore) {
          bestScore = score
          best = i
        }
      })
    }
    return this.#free.splice(best, 1)[0]!
  }

  #give(slot: SequenceSlot): void {
    this.#free.push(slot)
    const next = this.#waiting.shift()
    if (next) next.grant(this.#take(next.prefer))
  }
}
