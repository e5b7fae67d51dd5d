import type { PeerDiscovery, PeerInfo } from '@libp2p/interface'
import { type MulticastDNSComponents, mdns } from '@libp2p/mdns'

/** mDNS discovery on the local network. */
export interface MdnsOptions {
  /**
   * Query interval in milliseconds.
   *
   * @default 10_000
   */
  intervalMs?: number
  /**
   * DNS-SD service name; only nodes using the same one find each other.
   *
   * @default '_infraxa._udp.local'
   */
  serviceTag?: string
  /**
   * Dial every peer mDNS discovers (libp2p 3 only records them).
   *
   * @default true
   */
  autoDial?: boolean
}

/** Default of {@link MdnsOptions.serviceTag}. */
export const DEFAULT_MDNS_SERVICE_TAG = '_infraxa._udp.local'

/**
 * The libp2p mDNS discovery module, with `onPeer` called for every peer it finds (before libp2p records
 * it) — the node uses it to dial mDNS peers, which libp2p 3 does not do by itself.
 */
export function mdnsDiscovery(
  options: MdnsOptions,
  onPeer: (peer: PeerInfo) => void,
): (components: MulticastDNSComponents) => PeerDiscovery {
  const factory = mdns({
    interval: options.intervalMs ?? 10_000,
    serviceTag: options.serviceTag ?? DEFAULT_MDNS_SERVICE_TAG,
  })
  return (components) => {
    const discovery = factory(components)
    discovery.addEventListener('peer', (event) => onPeer(event.detail))
    return discovery
  }
}
