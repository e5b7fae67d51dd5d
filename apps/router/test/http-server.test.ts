import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createHttpServer, type RouterApi } from '../src/index.js'
import type { CompletionResult } from '../src/openai-response.js'

/** TEST DOUBLE: a RouterApi that counts the jobs it is asked to run and answers each at once. */
let jobs = 0
const api = {
  complete: async (): Promise<CompletionResult> => {
    jobs++
    return {
      id: 'chatcmpl-x',
      model: 'm',
      text: 'hi',
      finishReason: 'stop',
      promptTokens: 1,
      completionTokens: 1,
      receipt: {
        receipt_id: 'x',
        verification: 'merkle',
        verdict: 'verified',
        streaming: 'none',
        provider: 'p',
        model_hash: '00',
        audited_steps: 4,
        attempts: 1,
        timings_ms: {},
      },
    }
  },
} as unknown as RouterApi

let base: string
const server = createHttpServer(api)
beforeAll(async () => {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})
afterAll(() => new Promise<void>((r) => server.close(() => r())))

const body = JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'hi' }], max_tokens: 4 })

describe('router HTTP: what may start a job', () => {
  it('refuses a completion not sent as application/json (a page could make a browser send it), unread', async () => {
    // The three content types a web page can POST across origins without a CORS preflight, and none.
    for (const type of [
      'text/plain',
      'application/x-www-form-urlencoded',
      'multipart/form-data',
      undefined,
    ]) {
      const res = await fetch(`${base}/v1/chat/completions`, {
        method: 'POST',
        // Bytes: fetch adds no content type of its own to them.
        body: new TextEncoder().encode(body),
        headers: type === undefined ? {} : { 'content-type': type },
      })
      expect(res.status).toBe(415)
      const error = ((await res.json()) as { error: { code: string; type: string; message: string } }).error
      expect(error).toMatchObject({ code: 'ERR_UNSUPPORTED_MEDIA_TYPE', type: 'invalid_request_error' })
      expect(error.message).toMatch(type === undefined ? /no content-type/ : /is not application\/json/)
    }
    // fetch sends a string body as text/plain unless told otherwise: no job ran for any of them.
    expect((await fetch(`${base}/v1/completions`, { method: 'POST', body })).status).toBe(415)
    expect(jobs).toBe(0)
    for (const type of ['application/json', 'application/json; charset=utf-8', 'Application/JSON']) {
      const res = await fetch(`${base}/v1/chat/completions`, {
        method: 'POST',
        body,
        headers: { 'content-type': type },
      })
      expect(res.status).toBe(200)
    }
    expect(jobs).toBe(3)
  })

  it('answers a wrong method with 405 and the method allowed', async () => {
    const get = await fetch(`${base}/v1/chat/completions`)
    expect(get.status).toBe(405)
    expect(get.headers.get('allow')).toBe('POST')
    const post = await fetch(`${base}/v1/models`, { method: 'POST', body: '{}' })
    expect(post.status).toBe(405)
    expect(post.headers.get('allow')).toBe('GET')
  })
})
