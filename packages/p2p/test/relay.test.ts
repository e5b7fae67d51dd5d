import { InvalidArgumentError } from '@infraxa/protocol'
import { afterEach, describe, expect, it } from 'vitest'
import { createNode, type InfraxaNode, RELAY_DEFAULTS } from '../src/index.js'

const ECHO = '/test/echo/1.0.0'
const nodes: InfraxaNode[] = []

async function node(options: Parameters<typeof createNode>[0] = {}): Promise<InfraxaNode> {
  const created = await createNode({ dht: false, ...options })
  nodes.push(created)
  return created
}

afterEach(async () => {
  await Promise.all(nodes.splice(0).map((n) => n.stop()))
})

async function relayedAddress(node: InfraxaNode, timeoutMs = 10_000): Promise<string> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const circuit = node.multiaddrs.map(String).find((a) => a.includes('/p2p-circuit'))
    if (circuit !== undefined) return circuit
    if (Date.now() > deadline) throw new Error(`no relayed address after ${timeoutMs} ms`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

describe('circuit relay v2 (loopback)', () => {
  it('without a DHT, a bare /p2p-circuit reserves on a relay among its peers and is served through it', async () => {
    const relay = await node({ reachability: { relay: true } })
    expect(relay.libp2p.services.relay).toBeDefined()
    const hidden = await node({
      listen: ['/ip4/127.0.0.1/tcp/0', '/p2p-circuit'],
      bootstrap: [relay.multiaddrs[0]!.toString()],
    })
    await hidden.handle(ECHO, async (stream) => {
      const frame = await stream.read()
      return frame === null ? undefined : new Uint8Array([...frame].reverse())
    })
    const circuit = await relayedAddress(hidden)
    expect(circuit).toContain(`/p2p/${relay.peerId}/p2p-circuit/p2p/${hidden.peerId}`)
    expect(relay.libp2p.services.relay!.reservations.has(hidden.peerId)).toBe(true)

    const client = await node()
    const answer = await client.request(circuit, ECHO, new Uint8Array([1, 2, 3]))
    expect([...answer]).toEqual([3, 2, 1])
    // The connection the client used runs through the relay and carries the relay's limits.
    const [connection] = client.libp2p.getConnections(hidden.peerId)
    expect(connection!.remoteAddr.toString()).toContain('/p2p-circuit')
    expect(client.connectionPath(hidden.peerId)).toBe('relayed')
    expect(client.connectionPath(relay.peerId)).toBe('direct')
    // (bytes left: the limit less what the exchange used)
    const left = connection!.limits?.bytes ?? 0n
    expect(left).toBeLessThanOrEqual(BigInt(RELAY_DEFAULTS.dataLimitBytes))
    expect(left).toBeGreaterThan(BigInt(RELAY_DEFAULTS.dataLimitBytes - 64 * 1024))
    // A second request reuses the relayed connection (no new dial).
    expect([...(await client.request(hidden.peerId, ECHO, new Uint8Array([4, 5])))]).toEqual([5, 4])
    expect(client.libp2p.getConnections(hidden.peerId)).toHaveLength(1)
  })

  it('with a DHT, a node listens through a named relay; a relayed connection carries more than libp2p’s 128 KiB default', async () => {
    const relay = await node({ dht: {}, reachability: { relay: true } })
    const hidden = await node({ dht: {}, listen: [`${relay.multiaddrs[0]}/p2p-circuit`] })
    await hidden.handle(ECHO, async (stream) => (await stream.read()) ?? undefined, {
      maxFrameBytes: 1 << 20,
    })
    const circuit = await relayedAddress(hidden)
    const client = await node()
    const big = new Uint8Array(512 * 1024).map((_, i) => i % 251)
    const answer = await client.request(circuit, ECHO, big, { maxFrameBytes: 1 << 20 })
    expect(answer).toEqual(big)
  })

  it('a relay with a small data limit cuts a relayed connection past it (typed error, no hang)', async () => {
    const relay = await node({ reachability: { relay: { dataLimitBytes: 64 * 1024 } } })
    const hidden = await node({ listen: ['/p2p-circuit'], bootstrap: [relay.multiaddrs[0]!.toString()] })
    await hidden.handle(ECHO, async (stream) => (await stream.read()) ?? undefined, {
      maxFrameBytes: 1 << 20,
    })
    const circuit = await relayedAddress(hidden)
    const client = await node()
    const big = new Uint8Array(256 * 1024)
    await expect(
      client.request(circuit, ECHO, big, { maxFrameBytes: 1 << 20, readTimeoutMs: 5_000 }),
    ).rejects.toMatchObject({ name: expect.stringMatching(/Error$/) })
  })

  it('a bare /p2p-circuit with a DHT is refused with a clear error (libp2p’s relay search would spin)', async () => {
    await expect(createNode({ listen: ['/p2p-circuit'] })).rejects.toThrow(InvalidArgumentError)
    await expect(createNode({ listen: ['/p2p-circuit'] })).rejects.toThrow(/relay multiaddr>\/p2p-circuit/)
  })

  it('a named relay that is not a relay fails the start with a clear error', async () => {
    const plain = await node({ dht: {} })
    await expect(
      createNode({ dht: {}, listen: [`${plain.multiaddrs[0]}/p2p-circuit`], dialTimeoutMs: 3_000 }),
    ).rejects.toThrow(/p2p-circuit/)
  })

  it('a node that is not a relay refuses reservations', async () => {
    const plain = await node()
    const hidden = await node({ listen: ['/p2p-circuit'], bootstrap: [plain.multiaddrs[0]!.toString()] })
    await new Promise((r) => setTimeout(r, 500))
    expect(hidden.multiaddrs.map(String).filter((a) => a.includes('/p2p-circuit'))).toEqual([])
  })
})
