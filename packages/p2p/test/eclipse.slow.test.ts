import { createHash } from 'node:crypto'
import { afterAll, describe, expect, it } from 'vitest'
import { createNode, type InfraxaNode, modelCid } from '../src/index.js'
import { startSybils, sybilRequests } from './helpers/kad-sybil.js'

/**
 * An eclipse attempt on loopback: 30 Sybils (test double, helpers/kad-sybil.ts) ground to be the ids
 * closest to a model's DHT key answer every query with each other and no provider. The victim (a router's
 * node) holds connections to all 30 and to one honest peer. An honest network of 12 nodes holds the
 * provider's record. What saves the victim: its join lookup (fillRoutingTable) walks the honest network
 * from the one honest peer, and kad-dht queries along 10 disjoint paths, so one path through honest peers
 * is enough. The line printed counts the Sybils' answers (runs seen: 2 to 120 GET_PROVIDERS; 1 lookup in
 * 5 once ended empty at the first try, hence the router's retries here too).
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
    const honest: InfraxaNode[] = [await node()]
    for (let i = 1; i < 12; i++) {
      honest.push(
        await node({ bootstrap: [honest[Math.floor(Math.random() * i)]!.multiaddrs[0]!.toString()] }),
      )
    }
    const provider = await node({ bootstrap: [honest[3]!.multiaddrs[0]!.toString()] })
    await provider.advertise(model)

    const sybils = await startSybils(modelCid(model).multihash.bytes, { count: 30, candidates: 5_000 })
    nodes.push(...sybils)

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
    let found = 0
    let firstTry = 0
    const trials = 8
    for (let t = 0; t < trials; t++) {
      const victim = await node({
        bootstrap: [
          honest[t % honest.length]!.multiaddrs[0]!.toString(),
          ...sybils.map((s) => s.multiaddrs[0]!.toString()),
        ],
      })
      const sybilShare =
        sybils.filter((s) => victim.libp2p.getConnections(s.peerId).length > 0).length /
        victim.libp2p.getConnections().length
      expect(sybilShare).toBeGreaterThan(0.65)
      const result = await lookupWithRetries(victim)
      if (result.found.includes(provider.peerId.toString())) found++
      if (result.firstTry) firstTry++
      await victim.stop()
    }
    console.log(
      `[p2p eclipse] provider found in ${found}/${trials} lookups (${firstTry} at the first try); Sybils answered ${JSON.stringify(sybilRequests)} (kad message type: count)`,
    )
    expect(found).toBe(trials)
  }, 300_000)
})
