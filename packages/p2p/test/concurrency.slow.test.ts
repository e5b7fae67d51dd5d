import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createNode, type InfraxaNode } from '../src/index.js'

const ECHO = '/test/echo/1.0.0'
let server: InfraxaNode
let client: InfraxaNode

beforeAll(async () => {
  ;[server, client] = await Promise.all([createNode({ dht: false }), createNode({ dht: false })])
  await server.handle(ECHO, async (stream) => (await stream.read()) ?? undefined, { rateLimit: false })
  await client.connect(server.multiaddrs[0]!)
})

afterAll(async () => {
  await Promise.all([server?.stop(), client?.stop()])
})

describe('concurrency', () => {
  it.each([100, 1_000])('%i concurrent requests over one connection all succeed', async (count) => {
    const answers = await Promise.all(
      Array.from({ length: count }, (_, i) =>
        client.request(server.peerId, ECHO, new TextEncoder().encode(`#${i}`)),
      ),
    )
    expect(answers.map((answer) => new TextDecoder().decode(answer))).toEqual(
      Array.from({ length: count }, (_, i) => `#${i}`),
    )
    expect(client.libp2p.getConnections(server.peerId)).toHaveLength(1)
  })

  it('1,000 concurrent requests succeed with the default per-peer rate limit too', async () => {
    const PROTOCOL = '/test/echo-default-limits/1.0.0'
    await server.handle(PROTOCOL, async (stream) => (await stream.read()) ?? undefined)
    const results = await Promise.allSettled(
      Array.from({ length: 1_000 }, () => client.request(server.peerId, PROTOCOL, new Uint8Array([1]))),
    )
    expect(results.filter((r) => r.status === 'rejected')).toEqual([])
  })
})
