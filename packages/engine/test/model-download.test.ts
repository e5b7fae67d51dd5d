import type { AddressInfo } from 'node:net'
import { createServer } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { ModelDownloadError } from '../src/errors.js'
import { loadModel } from '../src/load-model.js'
import { isRemoteModelUri } from '../src/model-source.js'

const savedEndpoint = process.env.HF_ENDPOINT
afterEach(() => {
  if (savedEndpoint === undefined) delete process.env.HF_ENDPOINT
  else process.env.HF_ENDPOINT = savedEndpoint
})

describe('hf: URIs without network', () => {
  it('recognises remote model URIs', () => {
    expect(isRemoteModelUri('hf:ggml-org/models/tinyllamas/stories260K.gguf')).toBe(true)
    expect(isRemoteModelUri('https://huggingface.co/x/y/resolve/main/z.gguf')).toBe(true)
    expect(isRemoteModelUri('./models/stories260K.gguf')).toBe(false)
  })

  it('fails fast with ModelDownloadError when the endpoint refuses connections', async () => {
    process.env.HF_ENDPOINT = 'http://127.0.0.1:9/'
    const started = performance.now()
    const error = await loadModel({
      uri: 'hf:infraxa-test/does-not-exist/model.gguf',
      threads: 1,
      download: { directory: '/tmp/infraxa-no-such-cache' },
    }).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(ModelDownloadError)
    expect((error as ModelDownloadError).code).toBe('ERR_MODEL_DOWNLOAD')
    expect((error as Error).message).toMatch(/unreachable|offline/)
    expect(performance.now() - started).toBeLessThan(10_000)
  })

  it('fails within the connect timeout when the endpoint never answers', async () => {
    // A loopback server that accepts connections and never answers: only the timeout ends the wait.
    const sockets: import('node:net').Socket[] = []
    const silent = createServer((socket) => sockets.push(socket))
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', () => resolve()))
    process.env.HF_ENDPOINT = `http://127.0.0.1:${(silent.address() as AddressInfo).port}/`
    const started = performance.now()
    try {
      const error = await loadModel({
        uri: 'hf:infraxa-test/does-not-exist/model.gguf',
        threads: 1,
        download: { directory: '/tmp/infraxa-no-such-cache', connectTimeoutMs: 300 },
      }).catch((e: unknown) => e)
      expect(error).toBeInstanceOf(ModelDownloadError)
      expect(performance.now() - started).toBeLessThan(10_000)
    } finally {
      for (const socket of sockets) socket.destroy()
      await new Promise<void>((resolve) => silent.close(() => resolve()))
    }
  })
})
