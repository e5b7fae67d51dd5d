import { describe, expect, it } from 'vitest'
import { GenerationAbortedError } from '../src/errors.js'
import { Generation, type GenerationProducer, type GenerationResult } from '../src/generation.js'
import type { GenerationStep } from '../src/generation-step.js'
import { SerialLock } from '../src/serial-lock.js'

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

describe('SerialLock', () => {
  it('runs holders one at a time in arrival order', async () => {
    const lock = new SerialLock()
    const log: string[] = []
    const job = async (name: string, ms: number) => {
      const release = await lock.acquire()
      log.push(`start ${name}`)
      await new Promise((r) => setTimeout(r, ms))
      log.push(`end ${name}`)
      release()
    }
    await Promise.all([job('a', 10), job('b', 1), job('c', 1)])
    expect(log).toEqual(['start a', 'end a', 'start b', 'end b', 'start c', 'end c'])
  })
})
