/**
 * A first-in-first-out lock: one llama.cpp context sequence evaluates one job at a time, and jobs run in
 * the order they asked.
 */
export class SerialLock {
  #tail: Promise<void> = Promise.resolve()

  /** Waits for every earlier holder; resolves to the function that releases the lock. */
  async acquire(): Promise<() => void> {
    let release!: () => void
    const held = new Promise<void>((resolve) => {
      release = resolve
    })
    const previous = this.#tail
    this.#tail = previous.then(() => held)
    await previous
    return release
  }
}
