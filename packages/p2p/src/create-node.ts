import { join } from 'node:path'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { InvalidArgumentError, PROTOCOL_IDS } from '@infraxa/protocol'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { type GossipsubOpts, gossipsub } from '@libp2p/gossipsub'
import { identify } from '@libp2p/identify'
import type { PeerInfo, PrivateKey } from '@libp2p/interface'
import {
  kadDHT,
  passthroughMapper,
  removePrivateAddressesMapper,
  removePublicAddressesMapper,
} from '@libp2p/kad-dht'
import { ping } from '@libp2p/ping'
import { tcp } from '@libp2p/tcp'
import { createLibp2p, type Libp2pOptions, type ServiceFactoryMap } from 'libp2p'
import { fillRoutingTable, waitForDhtPeer } from './dht-readiness.js'
import { loadOrCreateNodeKey } from './identity.js'
import { listenFailure } from './listen-failure.js'
import { type MdnsOptions, mdnsDiscovery } from './mdns-discovery.js'
import { ModelAdvertiser } from './model-discovery.js'
import { type InfraxaLibp2p, InfraxaNode, type NodeServices } from './node.js'
import { type ReachabilityOptions, reachabilityServices, relayTransport } from './reachability.js'
import { boundRoutingTable, type RoutingDiversityOptions } from './routing-diversity.js'
import { routingTableOf } from './routing-table.js'
import { SqliteDatastore } from './sqlite-datastore.js'

/** Kademlia DHT settings. */
export interface DhtOptions {
  /**
   * DHT protocol id; only nodes using the same one form a DHT.
   *
   * @default PROTOCOL_IDS.kad ('/infraxa/kad/1.0.0')
   */
  protocol?: string
  /**
   * Only query the DHT, never answer queries or store records. Leave `false` on a LAN or in tests, where
   * libp2p would otherwise wait for a verified public address before serving.
   *
   * @default false
   */
  clientMode?: boolean
  /**
   * Which peer addresses the DHT keeps and hands out. kad-dht's own default drops private and loopback
   * addresses, which breaks every LAN and loopback deployment.
   *
   * @default 'all'
   */
  addresses?: 'all' | 'public' | 'private'
  /**
   * Interval of the startup self-queries; queries wait for the first one, which kad-dht runs after ~1 s
   * by default.
   *
   * @default 50
   */
  initialQuerySelfIntervalMs?: number
  /**
   * Hold every DHT query until the node's first self-lookup has finished, as kad-dht does by default
   * (that walk dials much of the network: ~0.5 s in a 20-node LAN, longer on the internet). When
   * `false`, `createNode` waits until a bootstrap peer is in the routing table, `advertise` and
   * `findProviders` wait until the routing table has any peer, and queries then start at once.
   *
   * @default false
   */
  waitForSelfQuery?: boolean
  /**
   * How often advertised models are provided again.
   *
   * @default 900_000 (15 minutes)
   */
  reprovideIntervalMs?: number
  /**
   * Limit of one provide operation.
   *
   * @default 30_000
   */
  provideTimeoutMs?: number
  /**
   * Peers per k-bucket.
   *
   * @default 20
   */
  kBucketSize?: number
  /**
   * Peers asked at once during a query.
   *
   * @default 10
   */
  alpha?: number
  /**
   * Disjoint paths a query follows (S/Kademlia): each starts from different routing-table peers and
   * never shares a peer with another, so Sybils that capture some paths cannot capture all.
   *
   * @default alpha
   */
  disjointPaths?: number
  /**
   * Peer diversity in the routing table: at most `maxPerPrefix` peers per /24 (IPv4) or /48 (IPv6), so
   * one operator's address block cannot fill it (eclipse resistance). Loopback and private addresses are
   * not bounded unless `includePrivate`.
   *
   * @default { maxPerPrefix: 3, includePrivate: false }
   */
  diversity?: RoutingDiversityOptions
}

/** Connection and stream limits. */
export interface ConnectionLimits {
  /**
   * Connections kept open before the least valuable are pruned (peers tagged by Infraxa traffic last).
   *
   * @default 300
   */
  maxConnections?: number
  /**
   * Inbound connections still in the Noise/Yamux upgrade at once.
   *
   * @default 64
   */
  maxIncomingPendingConnections?: number
  /**
   * Inbound connections accepted per second from one IP address (libp2p's default of 5 rejects a LAN
   * or loopback swarm that starts at once).
   *
   * @default 50
   */
  inboundConnectionsPerHostPerSecond?: number
  /**
   * Streams (all protocols) open at once on one connection, each way. Per-protocol limits are set with
   * `handle` and `request`.
   *
   * @default 4096
   */
  maxStreamsPerConnection?: number
  /**
   * Streams a peer may open on a new connection before the node listens for them (yamux's default of 10
   * drops a connection that opens a burst of streams).
   *
   * @default 1024
   */
  maxEarlyStreams?: number
}

/** Options of {@link createNode}. */
export interface CreateNodeOptions {
  /**
   * Directory of the node's state: its key lives in `node.key` (mode 0600), so the PeerId survives
   * restarts, and libp2p's datastore in `libp2p.sqlite` (the peer store and the DHT records this node
   * holds for others, with their expiry), so a restarted node knows its peers and still answers lookups.
   * Created (mode 0700) if missing. Mutually exclusive with `privateKey`.
   */
  dataDir?: string
  /** The node key (Ed25519), instead of `dataDir`. With neither, a fresh key is generated per run. */
  privateKey?: PrivateKey
  /**
   * Multiaddrs to listen on.
   *
   * @default ['/ip4/127.0.0.1/tcp/0'] (loopback only: pass '/ip4/0.0.0.0/tcp/4001' to serve a network)
   */
  listen?: string[]
  /** Multiaddrs to announce instead of the listen addresses (e.g. behind port forwarding). */
  announce?: string[]
  /** Multiaddrs (with `/p2p/<peer id>`) dialled at start; they seed the DHT. */
  bootstrap?: string[]
  /**
   * Limit of each bootstrap dial.
   *
   * @default 10_000
   */
  bootstrapTimeoutMs?: number
  /**
   * Called for each bootstrap peer that could not be dialled; the node starts anyway unless it throws
   * (then the node is stopped and `createNode` rejects with that error).
   *
   * @default ignore
   */
  onBootstrapError?: (address: string, error: unknown) => void
  /**
   * mDNS discovery on the local network; discovered peers are dialled. It sends multicast on every
   * interface, so it is off unless asked for.
   *
   * @default false
   */
  mdns?: boolean | MdnsOptions
  /**
   * The Kademlia DHT used to advertise and find models.
   *
   * @default true
   */
  dht?: boolean | DhtOptions
  /**
   * Gossipsub (`node.pubsub`).
   *
   * @default false
   */
  gossipsub?: boolean | Partial<GossipsubOpts>
  /** Connection and stream limits. */
  connections?: ConnectionLimits
  /**
   * NAT traversal: serving as a circuit relay, AutoNAT and DCUtR. Every node can dial relayed
   * (`/p2p-circuit`) addresses; one that cannot be dialled adds `<relay multiaddr>/p2p-circuit` to
   * `listen` (one per relay) to hold a reservation there and announce the relayed address.
   *
   * @default { relay: false, autonat: true, dcutr: true }
   */
  reachability?: ReachabilityOptions
  /**
   * Limit of a dial, and of a protocol negotiation, in milliseconds.
   *
   * @default 10_000
   */
  dialTimeoutMs?: number
  /**
   * Limit of one address within a dial. A peer behind a firewall that drops packets advertises direct
   * addresses that never answer; libp2p tries its relayed addresses last, so this must leave them time.
   *
   * @default 3_000
   */
  addressDialTimeoutMs?: number
}

/** Default of {@link CreateNodeOptions.listen}. */
export const DEFAULT_LISTEN = ['/ip4/127.0.0.1/tcp/0']

const ADDRESS_MAPPERS = {
  all: passthroughMapper,
  public: removePrivateAddressesMapper,
  private: removePublicAddressesMapper,
} as const

/**
 * Creates and starts an Infraxa node: libp2p 3 over TCP with Noise and Yamux, identify, ping, a kad-dht
 * on `/infraxa/kad/1.0.0` that keeps LAN and loopback addresses, and optionally mDNS (dialling what it
 * finds) and gossipsub. Bootstrap peers are dialled before it resolves.
 *
 * @throws {InvalidKeyFileError} `dataDir` holds a corrupt key (it is never replaced)
 * @throws {InvalidArgumentError} both `dataDir` and `privateKey`, or a non-Ed25519 key
 * @example
 * const node = await createNode({ dataDir: './data', listen: ['/ip4/0.0.0.0/tcp/4001'] })
 * console.log(node.peerId.toString(), node.multiaddrs.map(String))
 */
export async function createNode(options: CreateNodeOptions = {}): Promise<InfraxaNode> {
  if (options.dataDir !== undefined && options.privateKey !== undefined) {
    throw new InvalidArgumentError('createNode: pass either dataDir or privateKey, not both')
  }
  const privateKey =
    options.privateKey ??
    (options.dataDir !== undefined
      ? await loadOrCreateNodeKey(options.dataDir)
      : await generateKeyPair('Ed25519'))
  if (privateKey.type !== 'Ed25519') {
    throw new InvalidArgumentError(`createNode: the node key must be Ed25519, not ${privateKey.type}`)
  }
  const dht = options.dht === false ? undefined : options.dht === true ? {} : (options.dht ?? {})
  if (dht !== undefined && (options.listen ?? []).some((a) => a.trim() === '/p2p-circuit')) {
    // libp2p's relay search walks the DHT, and with an empty routing table that walk never yields.
    throw new InvalidArgumentError(
      'createNode: listen on a named relay, `<relay multiaddr>/p2p-circuit` (e.g. /ip4/203.0.113.7/tcp/4001/p2p/12D3Koo…/p2p-circuit), not a bare /p2p-circuit',
    )
  }
  const limits = options.connections ?? {}
  const streamsPerConnection = limits.maxStreamsPerConnection ?? 4096

  // mDNS only records what it finds; the node dials it once libp2p exists.
  let started: InfraxaLibp2p | undefined
  const dialing = new Set<string>()
  const mdnsOptions = options.mdns === true ? {} : options.mdns === false ? undefined : options.mdns
  const dialDiscovered = (peer: PeerInfo): void => {
    const key = peer.id.toString()
    if (started === undefined || dialing.has(key) || started.getConnections(peer.id).length > 0) return
    if (peer.multiaddrs.length === 0) return
    dialing.add(key)
    started
      .dial(peer.multiaddrs.map((address) => address.encapsulate(`/p2p/${key}`)))
      .catch(() => undefined)
      .finally(() => dialing.delete(key))
  }

  const services: Record<string, unknown> = {
    identify: identify(),
    ping: ping(),
    ...reachabilityServices(options.reachability ?? {}),
  }
  if (dht !== undefined) {
    services.dht = kadDHT({
      protocol: dht.protocol ?? PROTOCOL_IDS.kad,
      clientMode: dht.clientMode ?? false,
      peerInfoMapper: ADDRESS_MAPPERS[dht.addresses ?? 'all'],
      initialQuerySelfInterval: dht.initialQuerySelfIntervalMs ?? 50,
      allowQueryWithZeroPeers: dht.waitForSelfQuery !== true,
      kBucketSize: dht.kBucketSize ?? 20,
      ...(dht.alpha !== undefined && { alpha: dht.alpha }),
      ...(dht.disjointPaths !== undefined && { disjointPaths: dht.disjointPaths }),
    })
  }
  if (options.gossipsub !== undefined && options.gossipsub !== false) {
    services.pubsub = gossipsub(options.gossipsub === true ? {} : options.gossipsub)
  }

  const config: Libp2pOptions<NodeServices> = {
    privateKey,
    addresses: {
      listen: options.listen ?? DEFAULT_LISTEN,
      ...(options.announce !== undefined ? { announce: options.announce } : {}),
    },
    transports: [tcp(), relayTransport()],
    connectionEncrypters: [noise()],
    streamMuxers: [
      yamux({
        maxEarlyStreams: limits.maxEarlyStreams ?? 1024,
        maxInboundStreams: streamsPerConnection,
        maxOutboundStreams: streamsPerConnection,
        // A paused stream may still receive one window; keep that below the 4 MiB read buffer limit.
        streamOptions: { maxStreamWindowSize: 2 * 1024 * 1024 },
      }),
    ],
    peerDiscovery:
      mdnsOptions === undefined
        ? []
        : [mdnsDiscovery(mdnsOptions, mdnsOptions.autoDial === false ? () => undefined : dialDiscovered)],
    connectionManager: {
      maxConnections: limits.maxConnections ?? 300,
      maxIncomingPendingConnections: limits.maxIncomingPendingConnections ?? 64,
      inboundConnectionThreshold: limits.inboundConnectionsPerHostPerSecond ?? 50,
      dialTimeout: options.dialTimeoutMs ?? 10_000,
      addressDialTimeout: options.addressDialTimeoutMs ?? 3_000,
    },
    services: services as ServiceFactoryMap<NodeServices>,
  }
  const datastore =
    options.dataDir === undefined ? undefined : new SqliteDatastore(join(options.dataDir, 'libp2p.sqlite'))
  if (datastore !== undefined) config.datastore = datastore
  let libp2p: InfraxaLibp2p
  try {
    libp2p = await createLibp2p<NodeServices>(config)
  } catch (error) {
    datastore?.close()
    throw listenFailure(error) ?? error
  }
  started = libp2p
  const table = libp2p.services.dht === undefined ? undefined : routingTableOf(libp2p.services.dht)
  const bound = table === undefined ? undefined : boundRoutingTable(libp2p, table, dht?.diversity)

  const kad = libp2p.services.dht
  const advertiser =
    dht === undefined || kad === undefined
      ? undefined
      : new ModelAdvertiser(libp2p, {
          dht: kad,
          reprovideIntervalMs: dht.reprovideIntervalMs ?? 900_000,
          provideTimeoutMs: dht.provideTimeoutMs ?? 30_000,
        })
  // Ends the background routing-table fill when the node stops.
  const joining = new AbortController()
  const node = new InfraxaNode({
    libp2p,
    privateKey,
    advertiser,
    dialTimeoutMs: options.dialTimeoutMs ?? 10_000,
    routing: table === undefined || bound === undefined ? undefined : { table, diversity: bound.stats },
    onStopped: () => {
      joining.abort()
      bound?.detach()
      datastore?.close()
    },
  })

  const bootstrapTimeoutMs = options.bootstrapTimeoutMs ?? 10_000
  try {
    let connected = 0
    await Promise.all(
      (options.bootstrap ?? []).map(async (address) => {
        try {
          const connection = await node.connect(address, { timeoutMs: bootstrapTimeoutMs })
          await node.tagPeer(connection.remotePeer)
          connected++
        } catch (error) {
          options.onBootstrapError?.(address, error)
        }
      }),
    )
    // Queries do not wait for the self-lookup: let the bootstrap peers reach the routing table first.
    if (kad !== undefined && dht?.waitForSelfQuery !== true && connected > 0) {
      await waitForDhtPeer(kad, bootstrapTimeoutMs)
    }
    if (kad !== undefined && connected > 0) {
      void fillRoutingTable(kad, privateKey.publicKey.toMultihash().bytes, joining.signal)
    }
  } catch (error) {
    // Only onBootstrapError throws here: it asked to give up.
    await node.stop()
    throw error
  }
  return node
}
