import { PROTOCOL_IDS, type Signer } from '@infraxa/protocol'
import type { CircuitRelayService } from '@libp2p/circuit-relay-v2'
import type { GossipSub } from '@libp2p/gossipsub'
import type { Identify } from '@libp2p/identify'
import type {
  Connection,
  Libp2p,
  PeerId,
  PeerInfo,
  PrivateKey,
  StreamHandlerOptions,
} from '@libp2p/interface'
import { KEEP_ALIVE } from '@libp2p/interface'
import type { KadDHT } from '@libp2p/kad-dht'
import type { Ping } from '@libp2p/ping'
import { isMultiaddr, type Multiaddr } from '@multiformats/multiaddr'
import {
  type CapabilityRecord,
  type CapabilitySource,
  capabilityHandler,
  MAX_CAPABILITY_FRAME_BYTES,
  openCapabilityResponse,
} from './capabilities.js'
import { type PeerTarget, type ResolvedTarget, resolvePeerTarget, targetPeerId } from './dial-target.js'
import { DhtDisabledError, NodeStoppedError, StreamClosedError } from './errors.js'
import { FramedStream, type FrameLimits } from './framed-stream.js'
import { findModelProviders, type ModelAdvertiser, type ModelProvider } from './model-discovery.js'
import {
  createStreamHandler,
  DEFAULT_MAX_PROTOCOL_STREAMS,
  type HandleOptions,
  type ProtocolHandler,
} from './protocol-handler.js'
import type { RoutingDiversityStats } from './routing-diversity.js'
import { type RoutingTableView, routingTablePeers } from './routing-table.js'
import { signerFromPrivateKey } from './signer.js'
import { dialFailure, isConnectionGone, openStreamFailure } from './transport-error.js'

/** The libp2p services of an Infraxa node. */
export interface NodeServices extends Record<string, unknown> {
  identify: Identify
  ping: Ping
  /** Present unless the node was created with `dht: false`. */
  dht?: KadDHT
  /** Present when the node was created with `gossipsub`. */
  pubsub?: GossipSub
  /** Present when the node serves as a circuit relay (`reachability.relay`). */
  relay?: CircuitRelayService
}

/** The libp2p node inside an {@link InfraxaNode}. */
export type InfraxaLibp2p = Libp2p<NodeServices>

/** Events of an {@link InfraxaNode}, forwarded from libp2p. */
export interface NodeEventMap {
  /** A peer was discovered (mDNS, DHT, identify). */
  'peer:discovery': CustomEvent<PeerInfo>
  /** The first connection to a peer opened. */
  'peer:connect': CustomEvent<PeerId>
  /** The last connection to a peer closed. */
  'peer:disconnect': CustomEvent<PeerId>
}

/** Options of {@link InfraxaNode.connect}. */
export interface ConnectOptions {
  signal?: AbortSignal | undefined
  /** Overrides the node's `dialTimeoutMs`. */
  timeoutMs?: number | undefined
}

/** Options of {@link InfraxaNode.openStream}, {@link InfraxaNode.request} and {@link InfraxaNode.requestStream}. */
export interface OpenStreamOptions extends FrameLimits {
  /** Aborts dialling, negotiation and every read and write with `AbortedError`. */
  signal?: AbortSignal | undefined
  /**
   * Limit for dialling and for protocol negotiation, each, in milliseconds.
   *
   * @default the node's `dialTimeoutMs` (10_000)
   */
  dialTimeoutMs?: number | undefined
  /**
   * Streams of this protocol this node may have open on one connection at once (libp2p's default of 64
   * fails bursts of concurrent requests). A protocol this node also serves uses its `handle` limit.
   *
   * @default 1024
   */
  maxOutboundStreams?: number | undefined
}

/** Options of {@link InfraxaNode.tagPeer}. */
export interface TagPeerOptions {
  /**
   * Tag value 1–100: connections to peers with higher totals are pruned last.
   *
   * @default 100
   */
  value?: number
  /**
   * Also ask libp2p to redial the peer when its connection drops.
   *
   * @default false
   */
  keepAlive?: boolean
}

/** Tag put on peers that spoke an Infraxa protocol with this node, so their connections are pruned last. */
export const INFRAXA_PEER_TAG = 'infraxa-peer'
/** Tag put by {@link InfraxaNode.tagPeer}. */
export const INFRAXA_KEEP_TAG = 'infraxa-keep'
const INFRAXA_PEER_TAG_VALUE = 50

/** What {@link createNode} hands to the node. */
export interface InfraxaNodeInit {
  libp2p: InfraxaLibp2p
  privateKey: PrivateKey
  advertiser: ModelAdvertiser | undefined
  dialTimeoutMs: number
  /** The DHT's routing table and its prefix bound, when the node has a DHT. */
  routing?: { table: RoutingTableView; diversity: () => RoutingDiversityStats } | undefined
  /** Called once libp2p has stopped (closes what createNode opened for it, e.g. its datastore). */
  onStopped?: () => void
}

/** What {@link InfraxaNode.routingTable} reports. */
export interface DhtRoutingTable {
  /** The peers in kad-dht's routing table. */
  readonly peers: PeerId[]
  /** Peers taken out again because their network prefix already held its share. */
  readonly refusedByPrefix: number
  /** Routing-table peers per bounded prefix (`ip4/203.0.113`, `ip6/2001:db8:1`). */
  readonly prefixes: ReadonlyMap<string, number>
}

/**
 * A started Infraxa transport node: libp2p (TCP, Noise, Yamux, identify, ping, kad-dht, optional mDNS and
 * gossipsub) with a persistent identity, discovery by model hash and framed, limited streams. Create it
 * with {@link createNode}.
 *
 * It knows protocol ids and bytes only: the apps put protobuf messages into the frames.
 */
export class InfraxaNode extends EventTarget implements AsyncDisposable {
  /** The underlying libp2p node (escape hatch). */
  readonly libp2p: InfraxaLibp2p
  /** This node's identity. */
  readonly peerId: PeerId
  /** Signs protocol envelopes with the node key (`signEnvelope(kind, message, node.signer)`). */
  readonly signer: Signer
  /** The node's 32-byte Ed25519 public key (the one inside its PeerId). */
  readonly publicKey: Uint8Array

  readonly #advertiser: ModelAdvertiser | undefined
  readonly #dialTimeoutMs: number
  readonly #tagged = new WeakSet<Connection>()
  #stopping: Promise<void> | undefined
  readonly #onStopped: (() => void) | undefined
  readonly #routing: InfraxaNodeInit['routing']

  /** Wraps a started libp2p node; use {@link createNode}, which builds and configures it. */
  constructor(init: InfraxaNodeInit) {
    super()
    this.libp2p = init.libp2p
    this.peerId = init.libp2p.peerId
    this.signer = signerFromPrivateKey(init.privateKey)
    this.publicKey = this.signer.publicKey
    this.#advertiser = init.advertiser
    this.#onStopped = init.onStopped
    this.#dialTimeoutMs = init.dialTimeoutMs
    this.#routing = init.routing
    for (const type of ['peer:discovery', 'peer:connect', 'peer:disconnect'] as const) {
      this.libp2p.addEventListener(type, (event) => {
        this.dispatchEvent(new CustomEvent(type, { detail: event.detail }))
      })
    }
  }

  /** Addresses other peers can dial, each ending in `/p2p/<peer id>`. */
  get multiaddrs(): Multiaddr[] {
    return this.libp2p.getMultiaddrs()
  }

  /** The gossipsub service, when the node was created with `gossipsub`. */
  get pubsub(): GossipSub | undefined {
    return this.libp2p.services.pubsub
  }

  /** Whether the node is running (`stop()` not called). */
  get isStarted(): boolean {
    return this.libp2p.status === 'started' && this.#stopping === undefined
  }

  /**
   * Subscribes to a node event; returns the function that unsubscribes.
   *
   * @example
   * const off = node.on('peer:connect', (event) => console.log('connected', event.detail.toString()))
   */
  on<K extends keyof NodeEventMap>(type: K, listener: (event: NodeEventMap[K]) => void): () => void {
    const wrapped = (event: Event): void => listener(event as NodeEventMap[K])
    this.addEventListener(type, wrapped)
    return () => this.removeEventListener(type, wrapped)
  }

  /**
   * Serves `protocol`: each inbound stream is framed, rate-limited per peer and passed to `handler`.
   *
   * @example
   * await node.handle('/echo/1.0.0', async (stream) => (await stream.read()) ?? undefined, { readTimeoutMs: 5_000 })
   */
  async handle(protocol: string, handler: ProtocolHandler, options: HandleOptions = {}): Promise<void> {
    await this.#register(protocol, handler, options, {})
  }

  /** Stops serving `protocol`. */
  async unhandle(protocol: string): Promise<void> {
    await this.libp2p.unhandle(protocol)
  }

  /**
   * How this node reaches a peer now: `direct`, `relayed` (only through a circuit relay; DCUtR may still
   * upgrade it) or `none` (no open connection).
   */
  connectionPath(target: PeerTarget): 'direct' | 'relayed' | 'none' {
    const peer = targetPeerId(resolvePeerTarget(target))
    if (peer === undefined) return 'none'
    const open = this.libp2p.getConnections(peer).filter((c) => c.status === 'open')
    if (open.length === 0) return 'none'
    return open.some((c) => !isRelayed(c)) ? 'direct' : 'relayed'
  }

  /**
   * A connection to the peer: an open one when there is one, else a new dial.
   *
   * @throws {PeerUnreachableError} the dial failed or timed out
   * @throws {AbortedError} `options.signal` fired
   * @throws {NodeStoppedError} the node is stopped
   */
  async connect(target: PeerTarget, options: ConnectOptions = {}): Promise<Connection> {
    return this.#connect(resolvePeerTarget(target), options)
  }

  /**
   * Opens a framed stream of `protocol` to a peer, for exchanges that are not one request and its
   * responses. Close it with `closeWrite()` and read until `null`, or `abort()` it.
   *
   * @throws {PeerUnreachableError | UnsupportedProtocolError | TooManyStreamsError | TimeoutError | AbortedError}
   */
  async openStream(
    target: PeerTarget,
    protocol: string,
    options: OpenStreamOptions = {},
  ): Promise<FramedStream> {
    const resolved = resolvePeerTarget(target)
    const timeoutMs = options.dialTimeoutMs ?? this.#dialTimeoutMs
    const limits: FrameLimits = {
      ...(options.maxFrameBytes !== undefined ? { maxFrameBytes: options.maxFrameBytes } : {}),
      ...(options.readTimeoutMs !== undefined ? { readTimeoutMs: options.readTimeoutMs } : {}),
      ...(options.writeTimeoutMs !== undefined ? { writeTimeoutMs: options.writeTimeoutMs } : {}),
    }
    for (let attempt = 0; ; attempt++) {
      const connection = await this.#connect(resolved, { signal: options.signal, timeoutMs })
      try {
        const stream = await connection.newStream(protocol, {
          signal: withTimeout(timeoutMs, options.signal),
          maxOutboundStreams: options.maxOutboundStreams ?? DEFAULT_MAX_PROTOCOL_STREAMS,
          // A peer behind NAT is reached through a relay; the relay's own limits bound such a connection.
          runOnLimitedConnection: true,
        })
        this.#tagConnection(connection)
        return new FramedStream(stream, connection, limits)
      } catch (cause) {
        // A connection that closed under us is worth one fresh dial.
        if (attempt === 0 && isConnectionGone(cause) && options.signal?.aborted !== true) continue
        throw openStreamFailure(cause, {
          peer: connection.remotePeer.toString(),
          protocol,
          signal: options.signal,
          timeoutMs,
        })
      }
    }
  }

  /**
   * Sends one frame on a new stream of `protocol` and returns the peer's (first) answer frame.
   *
   * @throws {RemoteError} the peer answered with an ERROR frame (`code` is the peer's)
   * @throws {StreamClosedError} the peer closed the stream without answering
   * @throws {PeerUnreachableError | UnsupportedProtocolError | TimeoutError | FrameTooLargeError | AbortedError}
   * @example
   * const answer = await node.request(providerId, PROTOCOL_IDS.audit, challengeBytes, { signal })
   */
  async request(
    target: PeerTarget,
    protocol: string,
    payload: Uint8Array,
    options: OpenStreamOptions = {},
  ): Promise<Uint8Array> {
    const stream = await this.openStream(target, protocol, options)
    return this.#exchange(stream, payload, options.signal)
  }

  /**
   * Sends one frame on a new stream of `protocol` and yields every answer frame until the peer closes
   * its end (a streaming response). Leaving the loop early resets the stream, which the handler sees as
   * its `stream.signal` firing.
   *
   * @throws like {@link request}, while iterating
   * @example
   * for await (const chunk of node.requestStream(provider, PROTOCOL_IDS.inference, requestBytes)) handle(chunk)
   */
  async *requestStream(
    target: PeerTarget,
    protocol: string,
    payload: Uint8Array,
    options: OpenStreamOptions = {},
  ): AsyncGenerator<Uint8Array, void, undefined> {
    const signal = options.signal
    const stream = await this.openStream(target, protocol, options)
    let finished = false
    try {
      await stream.write(payload, { signal })
      await stream.closeWrite({ signal })
      while (true) {
        const frame = await stream.read({ signal })
        if (frame === null) break
        yield frame
      }
      finished = true
    } finally {
      if (!finished) stream.abort()
      stream.dispose()
    }
  }

  /**
   * Announces in the DHT that this node provides the model (see `modelCid`) — once the DHT has a peer —
   * and keeps re-announcing it every `dht.reprovideIntervalMs`.
   *
   * @throws {DhtDisabledError} the node was created with `dht: false`
   * @throws {TimeoutError} the first announcement did not finish in `dht.provideTimeoutMs` (it is retried)
   */
  async advertise(modelHash: Uint8Array, options: { signal?: AbortSignal | undefined } = {}): Promise<void> {
    this.#assertStarted()
    if (this.#advertiser === undefined) throw new DhtDisabledError()
    await this.#advertiser.advertise(modelHash, options.signal)
  }

  /** Stops re-announcing a model. */
  async unadvertise(modelHash: Uint8Array): Promise<void> {
    if (this.#advertiser === undefined) throw new DhtDisabledError()
    await this.#advertiser.unadvertise(modelHash)
  }

  /** Model hashes this node currently advertises. */
  get advertisedModels(): Uint8Array[] {
    return this.#advertiser?.advertised ?? []
  }

  /**
   * The DHT routing table now: its peers, and what the per-prefix bound ({@link DhtOptions.diversity})
   * counted and refused. Empty for a node with no DHT.
   */
  routingTable(): DhtRoutingTable {
    const diversity = this.#routing?.diversity()
    return {
      peers: routingTablePeers(this.#routing?.table),
      refusedByPrefix: diversity?.refused ?? 0,
      prefixes: diversity?.prefixes ?? new Map(),
    }
  }

  /**
   * Peers that announced the model in the DHT, streamed as they are found (each once, never this node).
   * Their addresses go to the peer store, so they can be passed to `request` as PeerIds. The search ends
   * when the DHT has no more to ask; while the node has no DHT peer at all it waits for one, so pass a
   * `signal` to bound it.
   *
   * @throws {DhtDisabledError} the node was created with `dht: false`
   * @throws {AbortedError} `options.signal` fired
   * @example
   * for await (const provider of node.findProviders(modelHash, { signal: AbortSignal.timeout(5_000) })) {
   *   const { capability } = await node.fetchCapability(provider.peerId)
   * }
   */
  findProviders(
    modelHash: Uint8Array,
    options: { signal?: AbortSignal } = {},
  ): AsyncGenerator<ModelProvider> {
    this.#assertStarted()
    const dht = this.libp2p.services.dht
    if (dht === undefined) throw new DhtDisabledError()
    return findModelProviders(this.libp2p, dht, modelHash, options.signal)
  }

  /**
   * Serves `/infraxa/capabilities/1.0.0` with this node's CAPABILITY, signed with the node key. A
   * function source is called for every request. Empty `listenAddrs` become the node's addresses, a zero
   * `issuedAtMs` becomes now. Calling it again replaces the record.
   */
  async setCapability(source: CapabilitySource): Promise<void> {
    const handler = capabilityHandler(source, this.signer, () =>
      this.multiaddrs.map((address) => address.toString()),
    )
    await this.#register(
      PROTOCOL_IDS.capabilities,
      handler,
      { maxFrameBytes: MAX_CAPABILITY_FRAME_BYTES },
      {
        force: true,
      },
    )
  }

  /**
   * Fetches a peer's CAPABILITY record and checks it is signed by that peer's own key and not expired.
   *
   * @throws {InvalidSignatureError | UnexpectedEnvelopeError | StaleCapabilityError} a bad record
   * @throws like {@link request}
   */
  async fetchCapability(target: PeerTarget, options: OpenStreamOptions = {}): Promise<CapabilityRecord> {
    const stream = await this.openStream(target, PROTOCOL_IDS.capabilities, {
      maxFrameBytes: MAX_CAPABILITY_FRAME_BYTES,
      ...options,
    })
    const answer = await this.#exchange(stream, new Uint8Array(0), options.signal)
    return openCapabilityResponse(stream, answer)
  }

  /**
   * Tags a peer so its connections are pruned last (and, with `keepAlive`, redialled when they drop).
   * Peers that exchange Infraxa protocol streams with this node are tagged automatically (value 50).
   */
  async tagPeer(peer: PeerId, options: TagPeerOptions = {}): Promise<void> {
    const tags: Record<string, { value: number }> = { [INFRAXA_KEEP_TAG]: { value: options.value ?? 100 } }
    if (options.keepAlive === true) tags[`${KEEP_ALIVE}-${INFRAXA_KEEP_TAG}`] = { value: 1 }
    await this.libp2p.peerStore.merge(peer, { tags })
  }

  /**
   * The addresses this node knows for a peer (its peer store), each with `/p2p/<id>`: what to remember
   * to dial it again after a restart. Empty for a peer it never learnt an address of.
   */
  async knownAddresses(peer: PeerTarget): Promise<string[]> {
    const id = targetPeerId(resolvePeerTarget(peer))
    if (id === undefined) return []
    try {
      const entry = await this.libp2p.peerStore.get(id)
      return entry.addresses.map((a) => `${a.multiaddr.toString()}/p2p/${id.toString()}`)
    } catch {
      return []
    }
  }

  /**
   * Adds remembered addresses (`/…/p2p/<id>`, e.g. from {@link knownAddresses} in an earlier run) to the
   * peer store, so the peer can be dialled by its id. Addresses that do not parse or name another peer
   * are skipped.
   */
  async rememberAddresses(peer: PeerTarget, addresses: readonly string[]): Promise<void> {
    const id = targetPeerId(resolvePeerTarget(peer))
    if (id === undefined) return
    const multiaddrs: Multiaddr[] = []
    for (const address of addresses) {
      try {
        const target = resolvePeerTarget(address)
        if (isMultiaddr(target) && targetPeerId(target)?.equals(id))
          multiaddrs.push(target.decapsulate(`/p2p/${id.toString()}`))
      } catch {
        // not a multiaddr: skipped
      }
    }
    if (multiaddrs.length > 0) await this.libp2p.peerStore.merge(id, { multiaddrs })
  }

  /** Stops re-providing, closes every connection and stops libp2p. Safe to call twice. */
  async stop(): Promise<void> {
    this.#stopping ??= (async () => {
      this.#advertiser?.stop()
      await this.libp2p.stop()
      this.#onStopped?.()
    })()
    await this.#stopping
  }

  /** Same as {@link stop}, for `await using node = await createNode()`. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop()
  }

  async #register(
    protocol: string,
    handler: ProtocolHandler,
    options: HandleOptions,
    extra: Pick<StreamHandlerOptions, 'force'>,
  ): Promise<void> {
    this.#assertStarted()
    const streamHandler = createStreamHandler(handler, options, {
      onAccepted: (connection) => this.#tagConnection(connection),
    })
    await this.libp2p.handle(protocol, streamHandler, {
      maxInboundStreams: options.maxInboundStreams ?? DEFAULT_MAX_PROTOCOL_STREAMS,
      maxOutboundStreams: options.maxOutboundStreams ?? DEFAULT_MAX_PROTOCOL_STREAMS,
      runOnLimitedConnection: true,
      ...extra,
    })
  }

  async #exchange(
    stream: FramedStream,
    payload: Uint8Array,
    signal: AbortSignal | undefined,
  ): Promise<Uint8Array> {
    try {
      await stream.write(payload, { signal })
      await stream.closeWrite({ signal })
      const answer = await stream.read({ signal })
      if (answer === null) {
        throw new StreamClosedError(
          `${stream.remotePeer.toString()} closed ${stream.protocol} without answering`,
        )
      }
      return answer
    } catch (error) {
      stream.abort()
      throw error
    } finally {
      stream.dispose()
    }
  }

  async #connect(target: ResolvedTarget, options: ConnectOptions): Promise<Connection> {
    this.#assertStarted()
    const peer = targetPeerId(target)
    if (peer !== undefined) {
      const open = this.libp2p.getConnections(peer).filter((c) => c.status === 'open')
      // A direct connection first; else a relayed one (DCUtR upgrades it in the background when it can).
      const best = open.find((c) => !isRelayed(c)) ?? open[0]
      if (best !== undefined) return best
    }
    const timeoutMs = options.timeoutMs ?? this.#dialTimeoutMs
    try {
      return await this.libp2p.dial(target, { signal: withTimeout(timeoutMs, options.signal) })
    } catch (cause) {
      throw dialFailure(cause, { peer: target.toString(), signal: options.signal, timeoutMs })
    }
  }

  #tagConnection(connection: Connection): void {
    if (this.#tagged.has(connection)) return
    this.#tagged.add(connection)
    this.libp2p.peerStore
      .merge(connection.remotePeer, { tags: { [INFRAXA_PEER_TAG]: { value: INFRAXA_PEER_TAG_VALUE } } })
      .catch(() => undefined)
  }

  #assertStarted(): void {
    if (!this.isStarted) throw new NodeStoppedError()
  }
}

function isRelayed(connection: Connection): boolean {
  return connection.limits !== undefined || connection.remoteAddr.toString().includes('/p2p-circuit')
}

function withTimeout(timeoutMs: number, signal: AbortSignal | undefined): AbortSignal {
  const timeout = AbortSignal.timeout(timeoutMs)
  return signal === undefined ? timeout : AbortSignal.any([timeout, signal])
}
