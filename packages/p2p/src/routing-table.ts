import type { PeerId } from '@libp2p/interface'
import type { KadDHT } from '@libp2p/kad-dht'

/** The part of kad-dht's routing table Infraxa reads; kad-dht 16 keeps it off its public types. */
export interface RoutingTableView {
  readonly size: number
  addEventListener(type: 'peer:add' | 'peer:remove', listener: (event: CustomEvent<PeerId>) => void): void
  removeEventListener(type: 'peer:add' | 'peer:remove', listener: (event: CustomEvent<PeerId>) => void): void
  remove(peer: PeerId): Promise<void>
  /** The peers in the table now (kad-dht's k-bucket trie). */
  kb?: { toIterable(): Iterable<{ peerId: PeerId }> }
}

/**
 * kad-dht's routing table, or `undefined` where a future kad-dht no longer exposes one in this shape
 * (callers then fall back to doing without).
 */
export function routingTableOf(dht: KadDHT): RoutingTableView | undefined {
  const table = (dht as unknown as { routingTable?: Partial<RoutingTableView> }).routingTable
  if (
    typeof table?.size !== 'number' ||
    typeof table.addEventListener !== 'function' ||
    typeof table.remove !== 'function'
  ) {
    return undefined
  }
  return table as RoutingTableView
}

/** The peers in the routing table now (empty when it cannot be read). */
export function routingTablePeers(table: RoutingTableView | undefined): PeerId[] {
  const bucket = table?.kb
  if (bucket === undefined || typeof bucket.toIterable !== 'function') return []
  return [...bucket.toIterable()].map((contact) => contact.peerId)
}
