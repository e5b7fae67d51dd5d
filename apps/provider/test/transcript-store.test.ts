import { DatabaseSync } from 'node:sqlite'
import { describe, expect, it } from 'vitest'
import { TranscriptStore } from '../src/index.js'

const job = (id: number, createdAt: number) => ({
  jobId: new Uint8Array(16).fill(id),
  modelHash: new Uint8Array(32).fill(9),
  request: new Uint8Array([1, 2, 3]),
  response: new Uint8Array([4, 5]),
  steps: [
    { step: 0, token: 5, topIds: [5, 6], topLogprobs: [-10, -2000] },
    { step: 1, token: 7, topIds: [7, 1], topLogprobs: [0, -65536] },
  ],
  createdAt,
})

describe('transcript store', () => {
  it('keeps jobs byte for byte until the retention window ends', () => {
    const store = new TranscriptStore(new DatabaseSync(':memory:'), 1000)
    store.put(job(1, 100))
    const got = store.get(new Uint8Array(16).fill(1), 500)!
    expect(got.steps).toEqual(job(1, 100).steps)
    expect(got.request).toEqual(new Uint8Array([1, 2, 3]))
    expect(store.get(new Uint8Array(16).fill(1), 1101)).toBeUndefined()
    expect(store.get(new Uint8Array(16).fill(2), 500)).toBeUndefined()
    expect(store.prune(5000)).toBe(1)
  })
})
