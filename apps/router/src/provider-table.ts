import { type CapabilityRecord, type InfraxaNode, peerIdFromSignerKey } from '@infraxa/p2p'
import type { Capability, ModelOffer } from '@infraxa/protocol'
import { type JobTiming, observeLatency, type ProviderLatency } from './latency.js'
import type { ProviderStore } from './provider-store.js'

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex')

/** A provider as the router knows it: its signed capability record and what the router observed. */
export interface KnownProvider {
  readonly peerId: string
  readonly publicKey: Uint8Array
  capability: Capability
  fetchedAt: number
  /** What this router measured of its speed (undefined: never served it). */
  latency: ProviderLatency | undefined
}

/**
 * The live table of providers per model hash, filled from capability records fetched from connected
 * peers (bootstrap, mDNS, DHT `findProviders`). Records expire; an unreachable peer drops out. With a
 * {@link ProviderStore}, every record fetched is remembered with the peer's addresses, and a restarted
 * router starts from them ({@link restore}).
 */
export class ProviderTable {
  readonly #node: InfraxaNode
  readonly #store: ProviderStore | undefined
  readonly #providers = new Map<string, KnownProvider>()
  readonly #inflight = new Map<string, Promise<void>>()

  constructor(node: InfraxaNode, store?: ProviderStore) {
    this.#node = node
    this.#store = store
  }

  /**
   * Puts the remembered providers (records that still verify) in the table at once, their addresses in
   * the peer store so they can be dialled by id, and refreshes each in the background: one that cannot
   * be reached drops out of the table again (and stays on disk, for a later run). Returns how many.
   */
  async restore(): Promise<number> {
    const remembered = this.#store?.load() ?? []
    for (const { record, addresses, seenAt } of remembered) {
      const peerId = record.peerId.toString()
      if (peerId === this.#node.peerId.toString()) continue
      await this.#node.rememberAddresses(peerId, addresses)
      this.#providers.set(peerId, {
        peerId,
        publicKey: record.envelope.publicKey,
        capability: record.capability,
        fetchedAt: seenAt,
        latency: undefined,
      })
      void this.refresh(peerId)
    }
    return remembered.length
  }

  /** Fetches (or refreshes) one peer's capability record; failures drop the peer from the table. */
  refresh(peerId: string): Promise<void> {
    const running = this.#inflight.get(peerId)
    if (running) return running
    const job = this.#node
      .fetchCapability(peerId, { readTimeoutMs: 5_000, dialTimeoutMs: 5_000 })
      .then(async (record: CapabilityRecord) => {
        this.#store?.save(record, await this.#node.knownAddresses(peerId))
        const previous = this.#providers.get(peerId)
        this.#providers.set(peerId, {
          peerId,
          publicKey: record.envelope.publicKey,
          capability: record.capability,
          fetchedAt: Date.now(),
          latency: previous?.latency,
        })
      })
      .catch(() => {
        this.#providers.delete(peerId)
      })
      .finally(() => this.#inflight.delete(peerId))
    this.#inflight.set(peerId, job)
    return job
  }

  /** Refreshes every connected peer. */
  async refreshConnected(): Promise<void> {
    const peers = this.#node.libp2p.getPeers().map((p) => p.toString())
    await Promise.all(peers.map((p) => this.refresh(p)))
  }

  /**
   * Looks providers of a model up in the DHT and fetches their records. A lookup that finds nobody is
   * tried again (after 250 ms, then 1 s: a young routing table fills as peers answer) while `signal` allows.
   */
  async discover(modelHash: Uint8Array, signal: AbortSignal): Promise<void> {
    for (const wait of [0, 250, 1_000]) {
      if (wait > 0) {
        await new Promise((resolve) => setTimeout(resolve, wait))
        if (signal.aborted) return
      }
      const found: Promise<void>[] = []
      try {
        for await (const provider of this.#node.findProviders(modelHash, { signal })) {
          const id = provider.peerId.toString()
          if (id !== this.#node.peerId.toString()) found.push(this.refresh(id))
        }
      } catch {
        // aborted or no DHT peers: what was found so far still counts
      }
      await Promise.all(found)
      if (found.length > 0 || signal.aborted) return
    }
  }

  forget(peerId: string): void {
    this.#providers.delete(peerId)
  }

  get(peerId: string): KnownProvider | undefined {
    return this.#providers.get(peerId)
  }

  all(): KnownProvider[] {
    return [...this.#providers.values()]
  }

  /** Providers offering `modelHash`, with the offer. */
  serving(modelHash: Uint8Array): Array<{ provider: KnownProvider; offer: ModelOffer }> {
    const want = hex(modelHash)
    const out: Array<{ provider: KnownProvider; offer: ModelOffer }> = []
    for (const provider of this.#providers.values()) {
      const offer = provider.capability.models.find((m) => hex(m.modelHash) === want)
      if (offer) out.push({ provider, offer })
    }
    return out
  }

  /** Adds one served job's timing to the provider's moving averages. */
  observeLatency(peerId: string, timing: JobTiming): void {
    const p = this.#providers.get(peerId)
    if (p) p.latency = observeLatency(p.latency, timing)
  }

  /** The public key a peer id stands for must be the key that signed its records. */
  static keyMatches(peerId: string, publicKey: Uint8Array): boolean {
    try {
      return peerIdFromSignerKey(publicKey).toString() === peerId
    } catch {
      return false
    }
  }
}
