import { type CapabilityRecord, type InfraxaNode, peerIdFromSignerKey } from '@infraxa/p2p'
import type { Capability, ModelOffer } from '@infraxa/protocol'

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex')

/** A provider as the router knows it: its signed capability record and what the router observed. */
export interface KnownProvider {
  readonly peerId: string
  readonly publicKey: Uint8Array
  capability: Capability
  fetchedAt: number
  /** Exponential moving average of job latency (ms). */
  latencyMs: number | undefined
}

/**
 * The live table of providers per model hash, filled from capability records fetched from connected
 * peers (bootstrap, mDNS, DHT `findProviders`). Records expire; an unreachable peer drops out.
 */
export class ProviderTable {
  readonly #node: InfraxaNode
  readonly #providers = new Map<string, KnownProvider>()
  readonly #inflight = new Map<string, Promise<void>>()

  constructor(node: InfraxaNode) {
    this.#node = node
  }

  /** Fetches (or refreshes) one peer's capability record; failures drop the peer from the table. */
  refresh(peerId: string): Promise<void> {
    const running = this.#inflight.get(peerId)
    if (running) return running
    const job = this.#node
      .fetchCapability(peerId, { readTimeoutMs: 5_000, dialTimeoutMs: 5_000 })
      .then((record: CapabilityRecord) => {
        const previous = this.#providers.get(peerId)
        this.#providers.set(peerId, {
          peerId,
          publicKey: record.envelope.publicKey,
          capability: record.capability,
          fetchedAt: Date.now(),
          latencyMs: previous?.latencyMs,
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

  /** Looks providers of a model up in the DHT and fetches their records. */
  async discover(modelHash: Uint8Array, signal: AbortSignal): Promise<void> {
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

  observeLatency(peerId: string, ms: number): void {
    const p = this.#providers.get(peerId)
    if (p) p.latencyMs = p.latencyMs === undefined ? ms : 0.8 * p.latencyMs + 0.2 * ms
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
