import type { KadDHT } from '@libp2p/kad-dht'
import { routingTableOf } from './routing-table.js'

/**
 * Resolves once the DHT's routing table holds a peer; `false` when `timeoutMs` passed or `signal` fired
 * first. Queries on an empty routing table find nothing, so discovery calls wait here first. kad-dht 16
 * exposes no public hook for this, so it reads its `routingTable` (and answers `true` at once where a
 * future version no longer has one).
 */
export async function waitForDhtPeer(
  dht: KadDHT,
  timeoutMs: number = Number.POSITIVE_INFINITY,
  signal?: AbortSignal,
): Promise<boolean> {
  const table = routingTableOf(dht)
  if (table === undefined || table.size > 0) return true
  if (signal?.aborted) return false
  const { promise, resolve } = Promise.withResolvers<boolean>()
  const onAdd = (): void => resolve(true)
  const onAbort = (): void => resolve(false)
  const timer = Number.isFinite(timeoutMs) ? setTimeout(onAbort, timeoutMs) : undefined
  table.addEventListener('peer:add', onAdd)
  signal?.addEventListener('abort', onAbort)
  try {
    return await promise
  } finally {
    clearTimeout(timer)
    table.removeEventListener('peer:add', onAdd)
    signal?.removeEventListener('abort', onAbort)
  }
}

/**
 * What a node does once it has joined through its bootstrap peers, in the background: a lookup of its own
 * id: it meets the peers closest to it, which add it to their tables (kad-dht's periodic refresh walks
 * the farther buckets later). kad-dht's own first self-query runs ~50 ms after start, usually before any
 * bootstrap peer is connected, and finds nothing; without this a joining node keeps one or two routing
 * entries and lookups through it can end empty. Errors (the node stopping) end it quietly.
 */
export async function fillRoutingTable(dht: KadDHT, self: Uint8Array, signal: AbortSignal): Promise<void> {
  try {
    for await (const _ of dht.getClosestPeers(self, { signal })) {
      // Each query event is a peer met; kad-dht adds the ones that answer to the routing table.
    }
  } catch {
    // Stopped, or the network went away: the periodic refresh tries again.
  }
}
