import type { LlamaContextSequence } from 'node-llama-cpp'
import { describe, expect, it } from 'vitest'
import { GenerationAbortedError } from '../src/errors.js'
import { Generation, type GenerationProducer, type GenerationResult } from '../src/generation.js'
import type { GenerationStep } from '../src/generation-step.js'
import { SequencePool } from '../src/sequence-pool.js'

const step = (t: number): GenerationStep => ({ t, token: t, text: String(t), topK: [{ id: t, logprob: 0 }] })

/** A producer that emits `n` steps, one per macrotask, honouring the abort signal. */
function producer(n: number): GenerationProducer {
  return async (emit, signal) => {
    const steps: GenerationStep[] = []
    for (let t = 0; t < n; t++) {
      await new Promise((r) => setTimeout(r, 1))
      if (signal.aborted) throw new GenerationAbortedError()
      steps.push(step(t))
      emit(step(t))
    }
    return {
      promptTokens: [1],
      outputTokens: steps.map((s) => s.token),
      steps,
      text: steps.map((s) => s.text).join(''),
      finishReason: 'length',
      timings: { queueMs: 0, promptMs: 0, generateMs: 0, totalMs: 0 },
    } satisfies GenerationResult
  }
}

describe('Generation', () => {
  it('streams every step to each iterator and resolves the result', async () => {
    const g = new Generation([1], producer(5))
    const a: number[] = []
    const b: number[] = []
    await Promise.all([
      (async () => {
        for await (const s of g) a.push(s.t)
      })(),
      (async () => {
        for await (const s of g) b.push(s.t)
      })(),
    ])
    expect(a).toEqual([0, 1, 2, 3, 4])
    expect(b).toEqual(a)
    expect((await g.result).text).toBe('01234')
  })

  it('stops when the consumer leaves the loop early', async () => {
    const g = new Generation([1], producer(50))
    for await (const s of g) if (s.t === 1) break
    await expect(g.result).rejects.toBeInstanceOf(GenerationAbortedError)
  })

  it('honours an AbortSignal and surfaces errors through iteration', async () => {
    const controller = new AbortController()
    const g = new Generation([1], producer(50), controller.signal)
    const seen: number[] = []
    await expect(
      (async () => {
        for await (const s of g) {
          seen.push(s.t)
          if (s.t === 2) controller.abort()
        }
      })(),
    ).rejects.toBeInstanceOf(GenerationAbortedError)
    expect(seen.slice(0, 3)).toEqual([0, 1, 2])
  })
})

describe('SequencePool', () => {
  /** Test doubles of context sequences: only identity matters to the pool. */
  const sequences = (n: number) =>
    Array.from({ length: n }, (_, i) => ({ id: i }) as unknown as LlamaContextSequence)

  it('with one sequence runs holders one at a time in arrival order', async () => {
    const pool = new SequencePool(sequences(1))
    const log: string[] = []
    const job = async (name: string, ms: number) => {
      const { release } = await pool.acquire()
      log.push(`start ${name}`)
      await new Promise((r) => setTimeout(r, ms))
      log.push(`end ${name}`)
      release()
    }
    await Promise.all([job('a', 10), job('b', 1), job('c', 1)])
    expect(log).toEqual(['start a', 'end a', 'start b', 'end b', 'start c', 'end c'])
  })

  it('lends n sequences at once, queues the rest in order, and prefers the slot a job scores highest', async () => {
    const pool = new SequencePool(sequences(2))
    const a = await pool.acquire()
    const b = await pool.acquire()
    expect(a.slot).not.toBe(b.slot)
    expect(pool.busy).toBe(2)
    const order: string[] = []
    const c = pool.acquire().then((x) => {
      order.push('c')
      return x
    })
    const d = pool.acquire().then((x) => {
      order.push('d')
      return x
    })
    expect(pool.waiting).toBe(2)
    a.release()
    a.release() // twice is harmless
    const got = await c
    expect(got.slot).toBe(a.slot)
    b.release()
    await d
    expect(order).toEqual(['c', 'd'])
    got.release()
    ;(await d).release()
    b.slot.replayed = [1, 2, 3]
    const preferred = await pool.acquire((slot) => slot.replayed.length)
    expect(preferred.slot).toBe(b.slot)
  })

  it('drops a waiting job whose signal aborts, so the next one gets the sequence', async () => {
    const pool = new SequencePool(sequences(1))
    const first = await pool.acquire()
    const controller = new AbortController()
    const cancelled = pool.acquire(undefined, controller.signal)
    const next = pool.acquire()
    expect(pool.waiting).toBe(2)
    controller.abort(new Error('client left'))
    await expect(cancelled).rejects.toThrow('client left')
    expect(pool.waiting).toBe(1)
    first.release()
    expect((await next).slot).toBe(first.slot)
    await expect(pool.acquire(undefined, AbortSignal.abort(new Error('already')))).rejects.toThrow('already')
  })
})
