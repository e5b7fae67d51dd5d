import { describe, expect, it } from 'vitest'
import { BadRequestError, parseCompletionRequest } from '../src/index.js'

const limits = { maxBodyBytes: 1 << 20, maxTokens: 512, maxMessages: 8 }
const ok = { model: 'm', messages: [{ role: 'user', content: 'hi' }] }

describe('parseCompletionRequest', () => {
  it('accepts an OpenAI body with defaults, max_completion_tokens, stop as a string and the infraxa extension', () => {
    expect(parseCompletionRequest(ok, limits)).toMatchObject({
      maxTokens: 128,
      temperature: 0,
      seed: 0n,
      stop: [],
      verification: 'merkle',
      stream: false,
    })
    expect(
      parseCompletionRequest(
        {
          ...ok,
          max_completion_tokens: 7,
          stop: 'END',
          seed: 9,
          infraxa: { verification: 'zk_snark' },
          stream: true,
        },
        limits,
      ),
    ).toMatchObject({ maxTokens: 7, stop: ['END'], seed: 9n, verification: 'zk_snark', stream: true })
  })

  it('rejects each malformed field with a BadRequestError', () => {
    const bad: unknown[] = [
      null,
      [],
      'x',
      { messages: ok.messages },
      { ...ok, messages: 'hi' },
      { ...ok, messages: Array(9).fill(ok.messages[0]) },
      { ...ok, messages: [{ role: 'user', content: 5 }] },
      { ...ok, max_tokens: 0 },
      { ...ok, max_tokens: 513 },
      { ...ok, max_tokens: 1.5 },
      { ...ok, temperature: 'hot' },
      { ...ok, temperature: 3 },
      { ...ok, seed: -1 },
      { ...ok, stop: [1] },
      { ...ok, stop: ['a', 'b', 'c', 'd', 'e'] },
      { ...ok, stream: 'yes' },
      { ...ok, verification: 3 },
    ]
    for (const body of bad)
      expect(() => parseCompletionRequest(body, limits), JSON.stringify(body)).toThrow(BadRequestError)
  })
})
