import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { ask, main, RouterRequestError } from '../src/index.js'

/** TEST DOUBLE: an HTTP server speaking the router's API shape, to test the client alone. */
let server: Server
let url: string
/** The last request body the double received. */
let lastBody: Record<string, unknown> = {}
beforeAll(async () => {
  server = createServer((req, res) => {
    let body = ''
    req.on('data', (c) => (body += c))
    req.on('end', () => {
      const json = JSON.parse(body || '{}')
      lastBody = json
      if (json.model === 'missing') {
        res.writeHead(404, { 'content-type': 'application/json' })
        return res.end(
          JSON.stringify({
            error: { message: 'no provider serves model "missing"', code: 'ERR_UNKNOWN_MODEL' },
          }),
        )
      }
      const receipt = {
        receipt_id: 'r1',
        verdict: 'verified',
        verification: json.verification,
        provider: 'p',
        model_hash: 'h',
        audited_steps: 4,
        attempts: 1,
        timings_ms: { generate: 1 },
      }
      if (json.stream) {
        res.writeHead(200, { 'content-type': 'text/event-stream' })
        for (const t of ['Hel', 'lo'])
          res.write(`data: ${JSON.stringify({ id: 'c', choices: [{ delta: { content: t } }] })}\n\n`)
        res.write(
          `data: ${JSON.stringify({ id: 'c', choices: [{ delta: {}, finish_reason: 'stop' }], infraxa: receipt })}\n\ndata: [DONE]\n\n`,
        )
        return res.end()
      }
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(
        JSON.stringify({
          id: 'c',
          choices: [{ message: { content: 'Hello' }, finish_reason: 'stop' }],
          usage: { prompt_tokens: 1, completion_tokens: 2 },
          infraxa: receipt,
        }),
      )
    })
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()))
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})
afterAll(() => new Promise<void>((r) => server.close(() => r())))

describe('infraxa client', () => {
  it('sends top_p only when asked (the router verifies nucleus sampling)', async () => {
    await ask({ router: url, model: 'm', prompt: 'hi', temperature: 1, topP: 0.9 })
    expect(lastBody).toMatchObject({ top_p: 0.9, temperature: 1 })
    await ask({ router: url, model: 'm', prompt: 'hi' })
    expect(lastBody).not.toHaveProperty('top_p')
  })

  it('returns the answer and its receipt, plain and streamed', async () => {
    const plain = await ask({ router: url, model: 'm', prompt: 'hi' })
    expect(plain).toMatchObject({
      text: 'Hello',
      finishReason: 'stop',
      receipt: { verdict: 'verified', verification: 'merkle' },
    })
    const deltas: string[] = []
    const streamed = await ask({
      router: url,
      model: 'm',
      prompt: 'hi',
      stream: true,
      onText: (t) => deltas.push(t),
    })
    expect(deltas).toEqual(['Hel', 'lo'])
    expect(streamed).toMatchObject({ text: 'Hello', finishReason: 'stop', receipt: { receipt_id: 'r1' } })
  })

  it('raises the router error with its code, and a clear error when the router is down', async () => {
    await expect(ask({ router: url, model: 'missing', prompt: 'x' })).rejects.toMatchObject({
      code: 'ERR_UNKNOWN_MODEL',
      status: 404,
    })
    await expect(ask({ router: 'http://127.0.0.1:9', model: 'm', prompt: 'x' })).rejects.toBeInstanceOf(
      RouterRequestError,
    )
  })

  it('exits 2 on bad arguments and 1 on router errors, with a message', async () => {
    const err = vi.spyOn(process.stderr, 'write').mockImplementation(() => true)
    const out = vi.spyOn(process.stdout, 'write').mockImplementation(() => true)
    try {
      expect(await main(['--prompt', 'x'])).toBe(2)
      expect(await main(['--bogus'])).toBe(2)
      expect(await main(['--router', url, '--model', 'missing', '--prompt', 'x'])).toBe(1)
      // Bad values are bad arguments, found before any request reaches the router.
      const before = lastBody
      expect(await main(['--router', url, '--model', 'm', '--prompt', 'x', '--max-tokens', 'lots'])).toBe(2)
      expect(await main(['--router', url, '--model', 'm', '--prompt', 'x', '--seed', ''])).toBe(2)
      expect(await main(['--router', url, '--model', 'm', '--prompt', 'x', '--live'])).toBe(2)
      expect(lastBody).toBe(before)
      expect(await main(['--router', url, '--model', 'm', '--prompt', 'x'])).toBe(0)
      const said = String(err.mock.calls.map((c) => c[0]).join(''))
      expect(said).toMatch(/--prompt and --model are required/)
      expect(said).toMatch(/--max-tokens must be a number, got "lots"/)
      expect(said).toMatch(/--live needs --stream/)
    } finally {
      err.mockRestore()
      out.mockRestore()
    }
  })
})
