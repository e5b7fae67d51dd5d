import { InvalidArgumentError } from '@infraxa/protocol'
import type { PeerId } from '@libp2p/interface'
import { isPeerId } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { isMultiaddr, type Multiaddr, multiaddr } from '@multiformats/multiaddr'

/**
 * Who to talk to: a PeerId (its addresses must be known, e.g. from `findProviders`, mDNS or an earlier
 * connection), a multiaddr ending in `/p2p/<peer id>`, or either as a string (strings starting with `/`
 * are multiaddrs).
 */
export type PeerTarget = PeerId | Multiaddr | string

/** A parsed {@link PeerTarget}. */
export type ResolvedTarget = PeerId | Multiaddr

/**
 * Parses a {@link PeerTarget}.
 *
 * @throws {InvalidArgumentError} a string that is neither a multiaddr nor a PeerId
 */
export function resolvePeerTarget(target: PeerTarget): ResolvedTarget {
  if (isPeerId(target) || isMultiaddr(target)) return target
  if (typeof target !== 'string')
    throw new InvalidArgumentError('a peer target is a PeerId, Multiaddr or string')
  try {
    return target.startsWith('/') ? multiaddr(target) : peerIdFromString(target)
  } catch (cause) {
    throw new InvalidArgumentError(`not a multiaddr or PeerId: ${target} (${(cause as Error).message})`)
  }
}

/** The PeerId a target names, when it names one (a multiaddr without `/p2p/` does not). */
export function targetPeerId(target: ResolvedTarget): PeerId | undefined {
  if (isPeerId(target)) return target
  const value = target.getComponents().findLast((component) => component.name === 'p2p')?.value
  if (value === undefined) return undefined
  try {
    return peerIdFromString(value)
  } catch {
    return undefined
  }
}
