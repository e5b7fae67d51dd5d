import { afterEach, describe, expect, it } from 'vitest'
import {
  createNode,
  DhtDisabledError,
  INFRAXA_KEEP_TAG,
  INFRAXA_PEER_TAG,
  type InfraxaNode,
  NodeStoppedError,
} from '../src/index.js'

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

describe('createNode', () => {
  it('listens on loopback only by default and announces /p2p addresses', async () => {
    const a = await node()
    expect(a.multiaddrs.length).toBeGreaterThan(0)
    for (const address of a.multiaddrs) {
      expect(address.toString()).toMatch(
        new RegExp(`^/ip4/127\\.0\\.0\\.1/tcp/\\d+/p2p/${a.peerId.toString()}$`),
      )
    }
    expect(a.publicKey).toHaveLength(32)
  })

  it('dials its bootstrap peers and emits connect and disconnect events', async () => {
    const a = await node()
    const connected = new Promise<string>((resolve) =>
      a.on('peer:connect', (event) => resolve(event.detail.toString())),
    )
    const b = await node({ bootstrap: [a.multiaddrs[0]!.toString()] })
    expect(b.libp2p.getConnections(a.peerId)).toHaveLength(1)
    expect(await connected).toBe(b.peerId.toString())
    const tags = (await b.libp2p.peerStore.get(a.peerId)).tags
    expect(tags.get(INFRAXA_KEEP_TAG)?.value).toBe(100)

    const disconnected = new Promise<string>((resolve) =>
      a.on('peer:disconnect', (event) => resolve(event.detail.toString())),
    )
    await b.stop()
    expect(await disconnected).toBe(b.peerId.toString())
  })

  it('reports bootstrap peers it cannot reach and starts anyway', async () => {
    const failures: string[] = []
    const lonely = await node({
      bootstrap: ['/ip4/127.0.0.1/tcp/1/p2p/12D3KooWGC6TvWhfapngX6wvJHMYvKpDMXPb3ZnCZ6dMoaMtimQ5'],
      bootstrapTimeoutMs: 2_000,
      onBootstrapError: (address) => failures.push(address),
    })
    expect(lonely.isStarted).toBe(true)
    expect(failures).toHaveLength(1)
  })

  it('tags peers that exchange Infraxa streams so their connections are pruned last', async () => {
    const [a, b] = await Promise.all([node(), node()])
    await a.handle(ECHO, async (stream) => (await stream.read()) ?? undefined)
    await b.request(a.multiaddrs[0]!, ECHO, new Uint8Array([1]))
    expect((await b.libp2p.peerStore.get(a.peerId)).tags.get(INFRAXA_PEER_TAG)?.value).toBe(50)
    await expect
      .poll(async () => (await a.libp2p.peerStore.get(b.peerId)).tags.get(INFRAXA_PEER_TAG)?.value)
      .toBe(50)
  })

  it('survives a burst of streams on a brand-new connection (yamux early streams)', async () => {
    const [a, b] = await Promise.all([node(), node()])
    await a.handle(ECHO, async (stream) => (await stream.read()) ?? undefined)
    const address = a.multiaddrs[0]!.toString()
    const answers = await Promise.all(
      Array.from({ length: 100 }, (_, i) => b.request(address, ECHO, new Uint8Array([i]))),
    )
    expect(answers.map((answer) => answer[0])).toEqual(Array.from({ length: 100 }, (_, i) => i))
  })

  it('refuses DHT calls when created without a DHT', async () => {
    const a = await node()
    expect(() => a.findProviders(new Uint8Array(32))).toThrow(DhtDisabledError)
    await expect(a.advertise(new Uint8Array(32))).rejects.toBeInstanceOf(DhtDisabledError)
  })

  it('stops once, then refuses work; works with await using', async () => {
    let peerId: string
    {
      await using a = await createNode({ dht: false })
      peerId = a.peerId.toString()
      expect(a.isStarted).toBe(true)
    }
    expect(peerId).toMatch(/^12D3KooW/)
    const b = await node()
    await Promise.all([b.stop(), b.stop()])
    expect(b.isStarted).toBe(false)
    await expect(b.request(b.peerId, ECHO, new Uint8Array())).rejects.toBeInstanceOf(NodeStoppedError)
  })

  it('runs gossipsub when asked', async () => {
    const [a, b] = await Promise.all([node({ gossipsub: true }), node({ gossipsub: { emitSelf: false } })])
    expect(a.pubsub).toBeDefined()
    const topic = 'infraxa-test'
    const received = new Promise<string>((resolve) => {
      b.pubsub!.addEventListener('message', (event) => resolve(new TextDecoder().decode(event.detail.data)))
    })
    a.pubsub!.subscribe(topic)
    b.pubsub!.subscribe(topic)
    await b.connect(a.multiaddrs[0]!)
    await expect
      .poll(() => a.pubsub!.getSubscribers(topic).some((peer) => peer.equals(b.peerId)), { timeout: 5_000 })
      .toBe(true)
    await a.pubsub!.publish(topic, new TextEncoder().encode('hello gossip'))
    expect(await received).toBe('hello gossip')
    expect((await node()).pubsub).toBeUndefined()
  })
})
