import type { Libp2p, PeerId } from '@libp2p/interface'
import type { KadDHT } from '@libp2p/kad-dht'
import type { Multiaddr } from '@multiformats/multiaddr'
import { waitForDhtPeer } from './dht-readiness.js'
import { AbortedError, TimeoutError } from './errors.js'
import { modelCid } from './model-cid.js'

/** A peer that announced it serves a model. */
export interface ModelProvider {
  peerId: PeerId
  /** Its addresses as the DHT returned them (also added to the peer store, so the PeerId can be dialled). */
  multiaddrs: Multiaddr[]
}

/** Options of {@link ModelAdvertiser}. */
export interface ModelAdvertiserOptions {
  /** The DHT providing goes through (to wait for a first peer). */
  dht: KadDHT
  /** How often every advertised model is provided again. */
  reprovideIntervalMs: number
  /** Limit of one provide operation. */
  provideTimeoutMs: number
  /** Told about failed re-provides (the next interval tries again). */
  onReprovideError?(modelHash: Uint8Array, error: unknown): void
}

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex')
}

/**
 * Announces the models this node serves in the DHT: once when asked, then again every
 * `reprovideIntervalMs` so the records survive churn and reach peers that joined since.
 */
export class ModelAdvertiser {
  readonly #libp2p: Libp2p
  readonly #options: ModelAdvertiserOptions
  readonly #advertised = new Map<string, Uint8Array>()
  #timer: NodeJS.Timeout | undefined
  readonly #stopped = new AbortController()

  constructor(libp2p: Libp2p, options: ModelAdvertiserOptions) {
    this.#libp2p = libp2p
    this.#options = options
  }

  /** Model hashes currently advertised. */
  get advertised(): Uint8Array[] {
    return [...this.#advertised.values()].map((hash) => Uint8Array.from(hash))
  }

  /**
   * Provides the model's CID now (once the DHT has a peer) and keeps re-providing it. The hash stays
   * advertised (and is retried at the next interval) even when this first provide fails.
   *
   * @throws {TimeoutError} the provide did not finish within `provideTimeoutMs`
   * @throws {AbortedError} `signal` fired
   */
  async advertise(modelHash: Uint8Array, signal?: AbortSignal): Promise<void> {
    const cid = modelCid(modelHash)
    this.#advertised.set(hex(modelHash), Uint8Array.from(modelHash))
    this.#timer ??= setInterval(() => this.#reprovideAll(), this.#options.reprovideIntervalMs).unref()
    await this.#provide(cid, signal)
  }

  /** Stops re-providing a model (records already in the DHT expire on their own). */
  async unadvertise(modelHash: Uint8Array): Promise<void> {
    const cid = modelCid(modelHash)
    this.#advertised.delete(hex(modelHash))
    await this.#libp2p.contentRouting.cancelReprovide(cid).catch(() => undefined)
  }

  /** Stops the re-provide timer and any provide in flight. */
  stop(): void {
    clearInterval(this.#timer)
    this.#timer = undefined
    this.#stopped.abort()
  }

  async #provide(cid: ReturnType<typeof modelCid>, signal: AbortSignal | undefined): Promise<void> {
    const timeoutMs = this.#options.provideTimeoutMs
    const timeout = AbortSignal.timeout(timeoutMs)
    const signals = [timeout, this.#stopped.signal]
    if (signal !== undefined) signals.push(signal)
    const combined = AbortSignal.any(signals)
    try {
      // A provide on an empty routing table would only record it locally.
      if (!(await waitForDhtPeer(this.#options.dht, Number.POSITIVE_INFINITY, combined))) {
        combined.throwIfAborted()
      }
      await this.#libp2p.contentRouting.provide(cid, { signal: combined })
    } catch (cause) {
      if (signal?.aborted) throw new AbortedError('advertising a model', { cause: signal.reason })
      if (timeout.aborted) throw new TimeoutError('advertising a model', timeoutMs, { cause })
      throw cause
    }
  }

  #reprovideAll(): void {
    for (const modelHash of this.#advertised.values()) {
      this.#provide(modelCid(modelHash), undefined).catch((error: unknown) => {
        if (!this.#stopped.signal.aborted) this.#options.onReprovideError?.(modelHash, error)
      })
    }
  }
}

/**
 * Providers of a model found through the DHT, each peer once, this node excluded, as they are found.
 * Their addresses are added to the peer store so `request(peerId, …)` can dial them. While the DHT has
 * no peer at all it waits for one (pass a `signal` to bound that).
 *
 * @throws {AbortedError} `signal` fired
 */
export async function* findModelProviders(
  libp2p: Libp2p,
  dht: KadDHT,
  modelHash: Uint8Array,
  signal?: AbortSignal,
): AsyncGenerator<ModelProvider> {
  const cid = modelCid(modelHash)
  const seen = new Set<string>()
  try {
    if (!(await waitForDhtPeer(dht, Number.POSITIVE_INFINITY, signal))) signal?.throwIfAborted()
    for await (const provider of libp2p.contentRouting.findProviders(cid, signal ? { signal } : {})) {
      const key = provider.id.toString()
      if (seen.has(key) || provider.id.equals(libp2p.peerId)) continue
      seen.add(key)
      if (provider.multiaddrs.length > 0) {
        await libp2p.peerStore.merge(provider.id, { multiaddrs: provider.multiaddrs }).catch(() => undefined)
      }
      yield { peerId: provider.id, multiaddrs: provider.multiaddrs }
    }
  } catch (cause) {
    if (signal?.aborted) throw new AbortedError('finding providers', { cause: signal.reason })
    throw cause
  }
}
