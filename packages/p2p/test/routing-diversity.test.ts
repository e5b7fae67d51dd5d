import { generateKeyPair } from '@libp2p/crypto/keys'
import type { PeerId } from '@libp2p/interface'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { afterEach, describe, expect, it } from 'vitest'
import { addressPrefix, boundRoutingTable, createNode, type InfraxaNode } from '../src/index.js'
import type { RoutingTableView } from '../src/routing-table.js'

describe('addressPrefix', () => {
  it('labels the /24 of IPv4 and the /48 of IPv6; mapped IPv4 is IPv4; relayed counts as the relay', () => {
    expect(addressPrefix(multiaddr('/ip4/81.2.69.7/tcp/4001'))).toBe('ip4/81.2.69')
    expect(addressPrefix(multiaddr('/ip4/81.2.70.7/tcp/4001'))).toBe('ip4/81.2.70')
    expect(addressPrefix(multiaddr('/ip6/2a01:4f8:10:1::2/tcp/4001'))).toBe('ip6/2a01:4f8:10')
    expect(addressPrefix(multiaddr('/ip6/2a01:4f8::1/tcp/4001'))).toBe('ip6/2a01:4f8:0')
    expect(addressPrefix(multiaddr('/ip6/3fff:0:abcd:ffff:1:2:3:4/tcp/1'))).toBe('ip6/3fff:0:abcd')
    expect(addressPrefix(multiaddr('/ip6/::ffff:5.9.17.9/tcp/1'))).toBe('ip4/5.9.17')
    expect(
      addressPrefix(
        multiaddr(
          '/ip4/88.99.1.1/tcp/4001/p2p/12D3KooWNDTjx8aHiVFEkTMoQ5nwughvAnqF48a3oPjkUASkaX1E/p2p-circuit',
        ),
      ),
    ).toBe('ip4/88.99.1')
  })

  it('leaves loopback, private and IP-less addresses unbounded unless asked', () => {
    for (const address of [
      '/ip4/198.51.100.1/tcp/1',
      '/ip4/127.0.0.1/tcp/1',
      '/ip4/10.1.2.3/tcp/1',
      '/ip4/192.168.1.4/tcp/1',
      '/ip6/::1/tcp/1',
    ]) {
      expect(addressPrefix(multiaddr(address))).toBeUndefined()
    }
    expect(addressPrefix(multiaddr('/dns4/example.com/tcp/1'))).toBeUndefined()
    expect(addressPrefix(multiaddr('/ip4/127.0.5.1/tcp/1'), true)).toBe('ip4/127.0.5')
    expect(addressPrefix(multiaddr('/ip6/::1/tcp/1'), true)).toBe('ip6/0:0:0')
  })
})

/** Test double: kad-dht's routing table as boundRoutingTable sees it (events, remove, contents). */
class FakeRoutingTable implements RoutingTableView {
  readonly peers = new Map<string, PeerId>()
  readonly #events = new EventTarget()
  get size() {
    return this.peers.size
  }
  get kb() {
    return { toIterable: () => [...this.peers.values()].map((peerId) => ({ peerId })) }
  }
  add(peer: PeerId) {
    this.peers.set(peer.toString(), peer)
    this.#events.dispatchEvent(new CustomEvent('peer:add', { detail: peer }))
  }
  async remove(peer: PeerId) {
    if (this.peers.delete(peer.toString())) {
      this.#events.dispatchEvent(new CustomEvent('peer:remove', { detail: peer }))
    }
  }
  addEventListener(type: 'peer:add' | 'peer:remove', listener: (event: CustomEvent<PeerId>) => void) {
    this.#events.addEventListener(type, listener as (event: Event) => void)
  }
  removeEventListener(type: 'peer:add' | 'peer:remove', listener: (event: CustomEvent<PeerId>) => void) {
    this.#events.removeEventListener(type, listener as (event: Event) => void)
  }
}

const peer = async () => peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
const settle = () => new Promise((r) => setTimeout(r, 10))

describe('boundRoutingTable', () => {
  it('keeps at most maxPerPrefix peers of one /24, judged by the connection address; a freed slot refills', async () => {
    const table = new FakeRoutingTable()
    const addressOf = new Map<string, string>()
    const libp2p = {
      getConnections: (p?: PeerId) =>
        [addressOf.get(String(p))].filter((a) => a !== undefined).map((a) => ({ remoteAddr: multiaddr(a) })),
      peerStore: {
        get: async () => {
          throw new Error('not in the peer store')
        },
      },
    } as unknown as Parameters<typeof boundRoutingTable>[0]
    const early = await peer()
    addressOf.set(early.toString(), '/ip4/88.99.1.200/tcp/1')
    table.add(early) // Already in the table before the bound was attached.
    const bound = boundRoutingTable(libp2p, table, { maxPerPrefix: 2 })
    const sybils = await Promise.all(Array.from({ length: 6 }, peer))
    for (const [i, s] of sybils.entries()) {
      addressOf.set(s.toString(), `/ip4/88.99.1.${i + 1}/tcp/4001`)
      table.add(s)
    }
    const others = await Promise.all(Array.from({ length: 3 }, peer))
    for (const [i, o] of others.entries()) {
      addressOf.set(o.toString(), `/ip4/85.10.${i}.9/tcp/4001`)
      table.add(o)
    }
    const unknown = await peer()
    table.add(unknown) // No address at all: nothing to bound it by.
    await settle()
    expect(table.size).toBe(2 + 3 + 1)
    expect(table.peers.has(early.toString())).toBe(true)
    expect(bound.stats().refused).toBe(5)
    expect(bound.stats().prefixes.get('ip4/88.99.1')).toBe(2)

    await table.remove(early)
    table.add(sybils[5]!)
    await settle()
    expect(table.peers.has(sybils[5]!.toString())).toBe(true)
    expect(bound.stats().prefixes.get('ip4/88.99.1')).toBe(2)

    bound.detach()
    table.add(sybils[4]!)
    await settle()
    expect(table.peers.has(sybils[4]!.toString())).toBe(true)
  })
})

describe('a node with the bound', () => {
  const nodes: InfraxaNode[] = []
  afterEach(async () => {
    await Promise.all(nodes.splice(0).map((n) => n.stop()))
  })

  it('holds at most maxPerPrefix routing peers from one loopback /24 when private addresses count', async () => {
    const crowd: InfraxaNode[] = []
    for (let i = 1; i <= 6; i++) {
      crowd.push(await createNode({ listen: [`/ip4/127.0.77.${i}/tcp/0`] }))
    }
    const apart = await createNode({ listen: ['/ip4/127.0.78.1/tcp/0'] })
    nodes.push(...crowd, apart)
    const node = await createNode({
      dht: { diversity: { maxPerPrefix: 2, includePrivate: true } },
      bootstrap: [...crowd, apart].map((n) => n.multiaddrs[0]!.toString()),
    })
    nodes.push(node)
    await expect.poll(() => node.routingTable().refusedByPrefix, { timeout: 5_000 }).toBeGreaterThanOrEqual(4)
    const table = node.routingTable()
    const inCrowd = table.peers.filter((p) => crowd.some((c) => c.peerId.equals(p)))
    expect(inCrowd.length).toBeLessThanOrEqual(2)
    expect(table.peers.some((p) => p.equals(apart.peerId))).toBe(true)
    expect(table.prefixes.get('ip4/127.0.77')).toBe(inCrowd.length)
    // Their connections stay: the bound is on the routing table, not on who may talk to the node.
    expect(crowd.every((c) => node.libp2p.getConnections(c.peerId).length > 0)).toBe(true)
  })

  it('a node without a DHT reports an empty table', async () => {
    const node = await createNode({ dht: false })
    nodes.push(node)
    expect(node.routingTable()).toEqual({ peers: [], refusedByPrefix: 0, prefixes: new Map() })
  })
})
