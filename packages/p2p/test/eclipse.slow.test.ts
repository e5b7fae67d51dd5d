import { createHash } from 'node:crypto'
import { afterAll, describe, expect, it } from 'vitest'
import { createNode, type InfraxaNode, modelCid } from '../src/index.js'
import { startSybils, sybilRequests } from './helpers/kad-sybil.js'

/**
 * An eclipse attempt on loopback: 30 Sybils (test double, helpers/kad-sybil.ts) ground to be the ids
 * closest to a model's DHT key answer every query with each other and no provider. They share one address
 * block (127.0.99.0/24, as an attacker renting one subnet would); the 12 honest nodes each have their own
 * (127.0.1x.1). The victim (a router's node) holds connections to all 30 Sybils and to one honest peer;
 * the honest network holds the provider's record. What saves the victim: the routing table's prefix bound
 * (at most 3 peers per /24: loopback counts here, `includePrivate`), its join lookup (fillRoutingTable)
 * walking the honest network from the one honest peer, and kad-dht's 10 disjoint query paths. The same
 * trials without the bound (`maxPerPrefix: Infinity`) are the control: the line printed compares the
 * Sybils' share of the victim's routing table and the lookups found at the first try, and counts the
 * Sybils' answers (kad message type: count).
 */
const connections = { inboundConnectionsPerHostPerSecond: 10_000 }
const nodes: InfraxaNode[] = []
afterAll(async () => {
  await Promise.all(nodes.map((n) => n.stop()))
})

async function node(options: Parameters<typeof createNode>[0] = {}): Promise<InfraxaNode> {
  const created = await createNode({ connections, ...options })
  nodes.push(created)
  return created
}

describe('eclipse resistance', () => {
  it('a victim whose connections are mostly Sybils still finds the honest provider', async () => {
    const model = createHash('sha256').update('eclipsed model').digest()
    const honest: InfraxaNode[] = [await node({ listen: ['/ip4/127.0.10.1/tcp/0'] })]
    for (let i = 1; i < 12; i++) {
      honest.push(
        await node({
          listen: [`/ip4/127.0.${10 + i}.1/tcp/0`],
          bootstrap: [honest[Math.floor(Math.random() * i)]!.multiaddrs[0]!.toString()],
        }),
      )
    }
    const provider = await node({
      listen: ['/ip4/127.0.30.1/tcp/0'],
      bootstrap: [honest[3]!.multiaddrs[0]!.toString()],
    })
    await provider.advertise(model)

    const sybils = await startSybils(modelCid(model).multihash.bytes, {
      count: 30,
      candidates: 5_000,
      listen: (i) => [`/ip4/127.0.99.${i + 1}/tcp/0`],
    })
    nodes.push(...sybils)
    const isSybil = (p: { equals(other: unknown): boolean }) => sybils.some((s) => p.equals(s.peerId))

    const lookup = async (victim: InfraxaNode) => {
      const found: string[] = []
      for await (const p of victim.findProviders(model, { signal: AbortSignal.timeout(20_000) })) {
        found.push(p.peerId.toString())
      }
      return found
    }
    // As the router's ProviderTable does: an empty lookup is retried after 250 ms and 1 s.
    const lookupWithRetries = async (victim: InfraxaNode) => {
      for (const pause of [0, 250, 1_000]) {
        await new Promise((r) => setTimeout(r, pause))
        const found = await lookup(victim)
        if (found.length > 0) return { found, firstTry: pause === 0 }
      }
      return { found: [], firstTry: false }
    }
    const trial = async (t: number, maxPerPrefix: number) => {
      const victim = await node({
        dht: { diversity: { maxPerPrefix, includePrivate: true } },
        bootstrap: [
          honest[t % honest.length]!.multiaddrs[0]!.toString(),
          ...sybils.map((s) => s.multiaddrs[0]!.toString()),
        ],
      })
      const sybilConnections =
        sybils.filter((s) => victim.libp2p.getConnections(s.peerId).length > 0).length /
        victim.libp2p.getConnections().length
      expect(sybilConnections).toBeGreaterThan(0.65)
      const result = await lookupWithRetries(victim)
      const table = victim.routingTable().peers
      await victim.stop()
      return {
        found: result.found.includes(provider.peerId.toString()),
        firstTry: result.firstTry,
        sybilsInTable: table.filter(isSybil).length,
        tableSize: table.length,
      }
    }
    const trials = 8
    const run = async (maxPerPrefix: number) => {
      const results = []
      for (let t = 0; t < trials; t++) results.push(await trial(t, maxPerPrefix))
      const sybils = results.reduce((a, r) => a + r.sybilsInTable, 0)
      const entries = results.reduce((a, r) => a + r.tableSize, 0)
      return {
        found: results.filter((r) => r.found).length,
        firstTry: results.filter((r) => r.firstTry).length,
        maxSybilsInTable: Math.max(...results.map((r) => r.sybilsInTable)),
        sybilShare: entries === 0 ? 0 : sybils / entries,
      }
    }
    const bounded = await run(3)
    const unbounded = await run(Number.POSITIVE_INFINITY)
    const line = (r: Awaited<ReturnType<typeof run>>) =>
      `found ${r.found}/${trials} (${r.firstTry} at the first try), Sybils ${(100 * r.sybilShare).toFixed(0)}% of routing entries (max ${r.maxSybilsInTable} in one table)`
    console.log(
      `[p2p eclipse] bounded (3 per /24): ${line(bounded)}; unbounded control: ${line(unbounded)}; Sybils answered ${JSON.stringify(sybilRequests)}`,
    )
    expect(bounded.found).toBe(trials)
    expect(bounded.maxSybilsInTable).toBeLessThanOrEqual(3)
    // The control shows what the bound prevents (it must be able to fail without it).
    expect(unbounded.maxSybilsInTable).toBeGreaterThan(3)
  }, 600_000)
})
