/**
 * Discovery in a 50-node DHT on loopback, as the issue measured it: nodes join one at a time, each
 * bootstrapped to one random earlier node (the sparsest start), 5 advertise a model, then fresh nodes —
 * each bootstrapped to one random member — look the model up once (no retry). Counts the lookups that
 * ended empty and times the first provider found. Used by `pnpm bench` and by the discovery test.
 */
import { createHash } from 'node:crypto'
import { createNode, type InfraxaNode } from '../src/index.js'

export interface LookupReport {
  nodes: number
  providers: number
  lookups: number
  /** Lookups that ended without finding any provider. */
  empty: number
  /** Milliseconds from the fresh node's start (after bootstrap) to the first provider, per successful lookup. */
  firstProviderMs: number[]
  /** Routing-table sizes of the network's nodes after the joins settled (sorted). */
  routingTableSizes: number[]
}

function routingTableSize(node: InfraxaNode): number {
  const table = (node.libp2p.services.dht as unknown as { routingTable?: { size?: number } }).routingTable
  return table?.size ?? 0
}

export async function measureLookups({
  nodes = 50,
  providers = 5,
  lookups = 180,
  settleMs = 3_000,
}: {
  nodes?: number
  providers?: number
  lookups?: number
  settleMs?: number
} = {}): Promise<LookupReport> {
  const network: InfraxaNode[] = []
  const connections = { inboundConnectionsPerHostPerSecond: 10_000 }
  try {
    network.push(await createNode({ connections }))
    for (let i = 1; i < nodes; i++) {
      const via = network[Math.floor(Math.random() * network.length)]!
      network.push(await createNode({ bootstrap: [via.multiaddrs[0]!.toString()], connections }))
    }
    const model = createHash('sha256').update(`lookup bench model ${Date.now()}`).digest()
    const serving = network.slice(-providers)
    await Promise.all(serving.map((node) => node.advertise(model)))
    const servingIds = new Set(serving.map((node) => node.peerId.toString()))
    await new Promise((resolve) => setTimeout(resolve, settleMs))
    const routingTableSizes = network.map(routingTableSize).sort((a, b) => a - b)

    let empty = 0
    const firstProviderMs: number[] = []
    for (let i = 0; i < lookups; i++) {
      const via = network[Math.floor(Math.random() * network.length)]!
      const fresh = await createNode({ bootstrap: [via.multiaddrs[0]!.toString()], connections })
      try {
        const started = performance.now()
        let found = false
        for await (const provider of fresh.findProviders(model, { signal: AbortSignal.timeout(20_000) })) {
          if (!servingIds.has(provider.peerId.toString())) continue
          firstProviderMs.push(performance.now() - started)
          found = true
          break
        }
        if (!found) empty++
      } finally {
        await fresh.stop()
      }
    }
    return { nodes, providers, lookups, empty, firstProviderMs, routingTableSizes }
  } finally {
    await Promise.all(network.map((node) => node.stop()))
  }
}
