/**
 * Finds the first occurrence of any stop string in text that grows piece by piece, scanning only the
 * new text plus an overlap, so the cost per step is independent of the output length.
 */
export class StopStringMatcher {
  readonly #stops: readonly string[]
  readonly #overlap: number
  #text = ''

  constructor(stops: readonly string[]) {
    this.#stops = stops.filter((s) => s.length > 0)
    this.#overlap = Math.max(0, ...this.#stops.map((s) => s.length - 1))
  }

  /** All text appended so far. */
  get text(): string {
    return this.#text
  }

  /**
   * Appends a piece of text. Returns the index in the accumulated text where the earliest stop string
   * starts, or -1 when none has appeared.
   */
  append(piece: string): number {
    const from = Math.max(0, this.#text.length - this.#overlap)
    this.#text += piece
    if (this.#stops.length === 0 || piece.length === 0) return -1
    let best = -1
    for (const stop of this.#stops) {
      const index = this.#text.indexOf(stop, from)
      if (index >= 0 && (best < 0 || index < best)) best = index
    }
    return best
  }
}
