import type { EngineModel } from '@infraxa/engine'
import type { Executor } from '@infraxa/proofs/modes'
import { describe, expect, it } from 'vitest'
import { auditAfterStream, streamCacheExecutor } from '../src/stream-cache-executor.js'

type ReplayArgs = Parameters<EngineModel['replay']>[0]

/** Test double of the router's engine: records each replay's options, returns one fixed distribution. */
function recordingEngine() {
  const calls: ReplayArgs[] = []
  const engine = {
    replay: async (args: ReplayArgs) => {
      calls.push(args)
      return args.positions.map(() => [{ id: 1, logprob: -0.1 }])
    },
    tokenizePrompt: async () => [1, 2],
  } as unknown as EngineModel
  return { engine, calls }
}

const request = { promptTokens: [1, 2], outputTokens: [3, 4, 5], positions: [2, 0], topK: 1 }

describe('the audit after verified streaming', () => {
  it('replays from the stream check’s cache, cut back before each opened step', async () => {
    const { engine, calls } = recordingEngine()
    await streamCacheExecutor(engine).replay(request)
    expect(calls).toEqual([{ ...request, reuseCache: true, cutCache: true }])
    expect(await streamCacheExecutor(engine).tokenizePrompt?.([{ role: 'user', content: 'hi' }])).toEqual([
      1, 2,
    ])
  })

  it('stands on the cut cache when the audit passes: one audit, no fresh prefill', async () => {
    const { engine, calls } = recordingEngine()
    const verdicts: boolean[] = []
    const result = await auditAfterStream(engine, async (executor: Executor) => {
      await executor.replay(request)
      verdicts.push(true)
      return { valid: true }
    })
    expect(result.valid).toBe(true)
    expect(verdicts).toHaveLength(1)
    expect(calls.map((c) => c.cutCache === true)).toEqual([true])
  })

  it('re-audits a failure with a fresh prefill, whose verdict stands (either way)', async () => {
    for (const fresh of [true, false]) {
      const { engine, calls } = recordingEngine()
      const result = await auditAfterStream(engine, async (executor: Executor) => {
        await executor.replay(request)
        // The named double of a cut cache that drifted past the tolerance where a prefill does not.
        const fromCache = calls.at(-1)?.cutCache === true
        return { valid: fromCache ? false : fresh, by: fromCache ? 'cache' : 'fresh' }
      })
      expect(result).toEqual({ valid: fresh, by: 'fresh' })
      expect(calls.map((c) => c.cutCache === true)).toEqual([true, false])
      expect(calls[1]).toEqual(request)
    }
  })
})
