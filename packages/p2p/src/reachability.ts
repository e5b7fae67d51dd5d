import { autoNATv2 } from '@libp2p/autonat-v2'
import { circuitRelayServer, circuitRelayTransport } from '@libp2p/circuit-relay-v2'
import { dcutr } from '@libp2p/dcutr'

/**
 * How a node serves as a circuit relay v2 for peers that cannot be dialled (`--relay`). Relayed
 * connections carry Infraxa protocols, so the limits are sized for inference jobs, not for libp2p's
 * signalling-only defaults (2 minutes, 128 KiB).
 */
export interface RelayServerOptions {
  /**
   * Peers that may hold a reservation (a relayed address) on this node at once.
   *
   * @default 128
   */
  maxReservations?: number
  /**
   * Bytes one relayed connection may carry (each way) before the relay closes it.
   *
   * @default 64 MiB
   */
  dataLimitBytes?: number
  /**
   * How long one relayed connection may stay open.
   *
   * @default 600_000 (10 minutes)
   */
  durationLimitMs?: number
  /**
   * How long a reservation lasts; the reserving peer renews it before it expires.
   *
   * @default 3_600_000 (1 hour)
   */
  reservationTtlMs?: number
}

/** NAT traversal: which of libp2p's parts a node runs. */
export interface ReachabilityOptions {
  /**
   * Serve as a circuit relay v2 (`true` for the defaults of {@link RelayServerOptions}). Any
   * well-connected node may: it forwards bytes it cannot read (Noise runs end to end).
   *
   * @default false
   */
  relay?: boolean | RelayServerOptions
  /**
   * AutoNAT v2: ask peers to dial this node's public addresses back and answer their requests, so the
   * node announces only the addresses others can reach. libp2p skips private and loopback addresses
   * (they cannot be checked from outside), so it does nothing on a LAN or on loopback.
   *
   * @default true
   */
  autonat?: boolean
  /**
   * DCUtR: upgrade a relayed connection to a direct one (a hole punch, or a dial back from the peer
   * behind NAT) when either side has a public address.
   *
   * @default true
   */
  dcutr?: boolean
}

/** Defaults of {@link RelayServerOptions}. */
export const RELAY_DEFAULTS = {
  maxReservations: 128,
  dataLimitBytes: 64 * 1024 * 1024,
  durationLimitMs: 600_000,
  reservationTtlMs: 3_600_000,
} as const satisfies Required<RelayServerOptions>

/**
 * The circuit relay transport every node has: it dials `/p2p-circuit` addresses, and a
 * `<relay multiaddr>/p2p-circuit` listen address makes it hold a reservation on that relay (renewed before
 * it expires) and announce the relayed address.
 */
export function relayTransport(): ReturnType<typeof circuitRelayTransport> {
  return circuitRelayTransport({ reservationCompletionTimeout: 10_000 })
}

/** The libp2p services of these options, by service name. */
export function reachabilityServices(options: ReachabilityOptions): Record<string, unknown> {
  const services: Record<string, unknown> = {}
  if (options.relay !== undefined && options.relay !== false) {
    const relay = { ...RELAY_DEFAULTS, ...(options.relay === true ? {} : options.relay) }
    services.relay = circuitRelayServer({
      reservations: {
        maxReservations: relay.maxReservations,
        reservationTtl: relay.reservationTtlMs,
        defaultDataLimit: BigInt(relay.dataLimitBytes),
        defaultDurationLimit: relay.durationLimitMs,
      },
    })
  }
  if (options.autonat !== false) services.autonat = autoNATv2()
  if (options.dcutr !== false) services.dcutr = dcutr()
  return services
}
