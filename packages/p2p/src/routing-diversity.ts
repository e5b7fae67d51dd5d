import { isIPv4, isIPv6 } from 'node:net'
import type { Libp2p, PeerId } from '@libp2p/interface'
import { isPrivateIp } from '@libp2p/utils'
import type { Multiaddr } from '@multiformats/multiaddr'
import { type RoutingTableView, routingTablePeers } from './routing-table.js'

/** Peer diversity in the DHT routing table (see {@link boundRoutingTable}). */
export interface RoutingDiversityOptions {
  /**
   * Most routing-table peers reached at addresses in one /24 (IPv4) or /48 (IPv6). `Infinity` turns the
   * bound off.
   *
   * @default 3
   */
  maxPerPrefix?: number
  /**
   * Count loopback and private addresses too. A LAN is one prefix, and a cluster on one is one operator,
   * so by default they are not bounded (mDNS finds LAN peers anyway).
   *
   * @default false
   */
  includePrivate?: boolean
}

/** What the bound did, for tests and metrics. */
export interface RoutingDiversityStats {
  /** Peers taken out of the routing table because their prefix was full. */
  readonly refused: number
  /** Routing-table peers per prefix now. */
  readonly prefixes: ReadonlyMap<string, number>
}

/** The eight 16-bit words of a valid IPv6 address (an IPv4 tail, as in ::ffff:1.2.3.4, is two words). */
function ipv6Words(ip: string): number[] | undefined {
  let text = ip
  const v4 = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text)
  if (v4 !== null) {
    const [a = 0, b = 0, c = 0, d = 0] = v4.slice(1).map(Number)
    text = `${text.slice(0, v4.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`
  }
  const halves = text.split('::')
  if (halves.length > 2) return undefined
  const part = (s: string) => (s === '' ? [] : s.split(':').map((g) => Number.parseInt(g, 16)))
  const left = part(halves[0] ?? '')
  const right = halves.length === 2 ? part(halves[1] ?? '') : []
  const zeros = halves.length === 2 ? 8 - left.length - right.length : 0
  if (zeros < 0) return undefined
  const words = [...left, ...new Array<number>(zeros).fill(0), ...right]
  return words.length === 8 && words.every((w) => Number.isInteger(w) && w >= 0 && w <= 0xffff)
    ? words
    : undefined
}

/**
 * The network prefix an address lies in, as a label: `ip4/203.0.113` (its /24) or `ip6/2001:db8:1` (its
 * /48); an IPv4-mapped IPv6 address counts as IPv4. A relayed address counts as its relay's (the peers
 * behind one relay depend on it alike). `undefined` for an address with no IP (dns, memory) and, unless
 * `includePrivate`, for loopback and private ones.
 */
export function addressPrefix(address: Multiaddr, includePrivate = false): string | undefined {
  const ip = address.getComponents().find((c) => c.name === 'ip4' || c.name === 'ip6')?.value
  if (ip === undefined) return undefined
  if (!includePrivate && isPrivateIp(ip) !== false) return undefined
  if (isIPv4(ip)) return `ip4/${ip.split('.').slice(0, 3).join('.')}`
  if (!isIPv6(ip)) return undefined
  const words = ipv6Words(ip.split('%')[0]!)
  if (words === undefined) return undefined
  if (words.slice(0, 5).every((w) => w === 0) && words[5] === 0xffff) {
    return `ip4/${words[6]! >> 8}.${words[6]! & 0xff}.${words[7]! >> 8}`
  }
  return `ip6/${words
    .slice(0, 3)
    .map((w) => w.toString(16))
    .join(':')}`
}

/**
 * Bounds how many peers of kad-dht's routing table come from one network prefix: a peer that joins a full
 * prefix is taken out again (the peers already there stay: Kademlia prefers long-lived contacts). One
 * operator with one address block — an eclipse attacker's Sybils — then holds at most `maxPerPrefix` of a
 * node's routing entries, however many connections it opens, so lookups start mostly from other peers.
 * A peer's prefix is the remote address of its open connection (what the network saw, not what it
 * claims), else its addresses in the peer store. kad-dht 16 has no admission hook; this listens to the
 * routing table's `peer:add`. Returns the stats and a function that detaches it.
 */
export function boundRoutingTable(
  libp2p: Pick<Libp2p, 'getConnections' | 'peerStore'>,
  table: RoutingTableView,
  options: RoutingDiversityOptions = {},
): { stats: () => RoutingDiversityStats; detach: () => void } {
  const max = options.maxPerPrefix ?? 3
  const includePrivate = options.includePrivate ?? false
  const prefixOfPeer = new Map<string, string>()
  const peersOfPrefix = new Map<string, Set<string>>()
  let refused = 0

  const prefixOf = async (peer: PeerId): Promise<string | undefined> => {
    for (const connection of libp2p.getConnections(peer)) {
      const prefix = addressPrefix(connection.remoteAddr, includePrivate)
      if (prefix !== undefined) return prefix
    }
    try {
      const known = await libp2p.peerStore.get(peer)
      for (const { multiaddr } of known.addresses) {
        const prefix = addressPrefix(multiaddr, includePrivate)
        if (prefix !== undefined) return prefix
      }
    } catch {
      // Not in the peer store: nothing to bound it by.
    }
    return undefined
  }

  const admit = async (peer: PeerId): Promise<void> => {
    const key = peer.toString()
    if (prefixOfPeer.has(key)) return
    const prefix = await prefixOf(peer)
    if (prefix === undefined || prefixOfPeer.has(key)) return
    const peers = peersOfPrefix.get(prefix) ?? new Set<string>()
    if (peers.size >= max) {
      refused++
      await table.remove(peer).catch(() => undefined)
      return
    }
    peers.add(key)
    peersOfPrefix.set(prefix, peers)
    prefixOfPeer.set(key, prefix)
  }

  const onAdd = (event: CustomEvent<PeerId>): void => {
    void admit(event.detail)
  }
  const onRemove = (event: CustomEvent<PeerId>): void => {
    const key = event.detail.toString()
    const prefix = prefixOfPeer.get(key)
    if (prefix === undefined) return
    prefixOfPeer.delete(key)
    const peers = peersOfPrefix.get(prefix)
    peers?.delete(key)
    if (peers?.size === 0) peersOfPrefix.delete(prefix)
  }
  table.addEventListener('peer:add', onAdd)
  table.addEventListener('peer:remove', onRemove)
  // Peers kad-dht put back from the peer store before this was attached.
  for (const peer of routingTablePeers(table)) void admit(peer)
  return {
    stats: () => ({
      refused,
      prefixes: new Map([...peersOfPrefix].map(([prefix, peers]) => [prefix, peers.size])),
    }),
    detach: () => {
      table.removeEventListener('peer:add', onAdd)
      table.removeEventListener('peer:remove', onRemove)
    },
  }
}
