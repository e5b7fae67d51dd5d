import { describe, expect, it } from 'vitest'
import { defaultThreads } from '../src/index.js'

describe('defaultThreads', () => {
  it('leaves one core to the process, at least 1 and at most 8 threads', () => {
    expect([1, 2, 3, 4, 9, 64].map((cores) => defaultThreads(cores))).toEqual([1, 1, 2, 3, 8, 8])
    expect(defaultThreads()).toBeGreaterThanOrEqual(1)
  })
})
