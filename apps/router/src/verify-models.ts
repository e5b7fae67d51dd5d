import { basename } from 'node:path'
import {
  batchedStepwiseNoise,
  CALIBRATED_TOLERANCE,
  CROSS_BUILD_TOLERANCE,
  defaultThreads,
  type EngineModel,
  EXACT_REPLAY_TOLERANCE,
  isFloatWeights,
  type LoadProgress,
  loadModel,
  tokenNoiseFor,
  toleranceForOtherCpuBuild,
  toleranceForQuantization,
} from '@infraxa/engine'
import type { TokenNoise, Tolerance } from '@infraxa/proofs/audit'
import { bytesEqual, type EngineInfo as EngineInfoMessage } from '@infraxa/protocol'

/**
 * Whether two engine claims of one provider (its capability offer, its signed response) name the same
 * numerics: release, backend, build and the settings that change log-probs.
 */
export function sameEngineClaims(
  a: Omit<EngineInfoMessage, '$typeName' | '$unknown'>,
  b: EngineInfoMessage | undefined,
): boolean {
  return (
    b !== undefined &&
    a.engineVersion === b.engineVersion &&
    a.backend === b.backend &&
    a.build === b.build &&
    a.batchSize === b.batchSize &&
    a.flashAttention === b.flashAttention &&
    a.kvCacheType === b.kvCacheType &&
    a.parallel === b.parallel
  )
}

/** A model the router can re-execute to verify answers. */
export type VerifyModelSource = { path: string } | { uri: string } | { engine: EngineModel }

/** One model the router holds. */
export interface VerifyModel {
  readonly hash: Uint8Array
  readonly hashHex: string
  readonly name: string
  readonly engine: EngineModel
  /** Loaded here (disposed with the set), or lent by the caller. */
  readonly owned: boolean
}

export interface VerifyModelOptions {
  /** CPU threads for models loaded here. @default cores − 1, 1..8 ({@link defaultThreads}) */
  threads?: number
  /**
   * Contexts per verify model: replays (audits, stream checks, fraud checks) that run at once, each
   * decoding alone (no shared batch, so the numerics of a solo replay). Measured on 2 cores: 16
   * replays at once took 34 ms each with 2 contexts against 39 ms with 1 (1.15×), for twice the KV
   * memory, hence the default. @default 1
   */
  contexts?: number
  onProgress?: (model: string, progress: LoadProgress) => void
  /** A fixed tolerance instead of the calibrated ones. */
  tolerance?: Tolerance
  /**
   * Also judge providers on hardware with no measured noise model (a GPU, another llama.cpp release),
   * with the cross-build tolerance, which catches another model but not another quantisation. Other CPU
   * builds of the router's release are measured and judged by default.
   */
  allowUnmeasuredEngines?: boolean
  /** Judge (and select) only providers on the router's own engine: no other CPU builds either. */
  sameBuildOnly?: boolean
  /** Re-check mismatching float-weight jobs stepwise (see RouterOptions.stepwiseFollowUp). @default true */
  stepwiseFollowUp?: boolean
}

/**
 * The router's own copies of the models it verifies, and what follows from comparing a provider's claims
 * with them: which engine is the same as the router's, which tolerance and which honest-noise model a
 * comparison uses, whether a capability offer describes the file behind its hash.
 */
export class VerifyModels {
  readonly all: readonly VerifyModel[]
  readonly #options: VerifyModelOptions

  private constructor(models: VerifyModel[], options: VerifyModelOptions) {
    this.all = models
    this.#options = options
  }

  /** Loads every source (disposing what was loaded if one fails). */
  static async load(
    sources: readonly VerifyModelSource[],
    options: VerifyModelOptions,
  ): Promise<VerifyModels> {
    const models: VerifyModel[] = []
    try {
      for (const source of sources) {
        const owned = !('engine' in source)
        const engine =
          'engine' in source
            ? source.engine
            : await loadModel({
                ...('path' in source ? { path: source.path } : { uri: source.uri }),
                threads: options.threads ?? defaultThreads(),
                contexts: options.contexts ?? 1,
                ...(options.onProgress && {
                  onProgress: (p: LoadProgress) =>
                    options.onProgress!('path' in source ? source.path : source.uri, p),
                }),
              })
        const identity = await engine.identity()
        const name =
          'engine' in source
            ? (identity.name ?? identity.hashHex.slice(0, 12))
            : basename('path' in source ? source.path : source.uri).replace(/\.gguf$/i, '')
        models.push({ hash: identity.hash, hashHex: identity.hashHex, name, engine, owned })
      }
    } catch (error) {
      for (const m of models) if (m.owned) await m.engine.dispose()
      throw error
    }
    return new VerifyModels(models, options)
  }

  find(hash: Uint8Array): VerifyModel | undefined {
    return this.all.find((m) => bytesEqual(m.hash, hash))
  }

  engineFor(hash: Uint8Array): EngineModel | undefined {
    return this.find(hash)?.engine
  }

  /**
   * Whether a provider's engine settings are the ones this router re-executes with (release, backend,
   * build, pinned settings). Batched decoding (`parallel` > 1) counts as the same engine: after the
   * sampling race was fixed, parallel 8 replayed alone was bit-exact on Q8_0 and within 0.011 on F32 with
   * 0 token mismatches in 36,644 scored tokens (engine docs/calibration.md); {@link noiseFor} still
   * judges it without the bit-exact classes.
   */
  sameEngine(modelHash: Uint8Array, providerEngine: EngineInfoMessage | undefined): boolean {
    const mine = this.engineFor(modelHash)?.engineInfo
    return (
      mine !== undefined &&
      providerEngine !== undefined &&
      sameEngineClaims({ ...mine, parallel: providerEngine.parallel }, providerEngine)
    )
  }

  /**
   * How a provider's engine relates to this router's, by what has been measured (engine
   * docs/calibration.md): `same` (bit-exact or near it), `other-cpu-build` (another CPU build of the same
   * llama.cpp release, or other batch / attention settings: groups e and f, up to 0.171 on Q8_0),
   * `unmeasured` (a GPU, another release or KV cache type, or no engine info: no measured bound).
   */
  engineClass(
    modelHash: Uint8Array,
    providerEngine: EngineInfoMessage | undefined,
  ): 'same' | 'other-cpu-build' | 'unmeasured' {
    if (this.sameEngine(modelHash, providerEngine)) return 'same'
    const mine = this.engineFor(modelHash)?.engineInfo
    if (
      mine !== undefined &&
      providerEngine !== undefined &&
      providerEngine.engineVersion === mine.engineVersion &&
      providerEngine.backend === 'cpu' &&
      mine.backend === 'cpu' &&
      providerEngine.kvCacheType === mine.kvCacheType
    )
      return 'other-cpu-build'
    return 'unmeasured'
  }

  /** Whether this router judges providers on this engine at all (unmeasured ones only when allowed). */
  judges(modelHash: Uint8Array, providerEngine: EngineInfoMessage | undefined): boolean {
    const engineClass = this.engineClass(modelHash, providerEngine)
    if (this.#options.sameBuildOnly) return engineClass === 'same'
    return this.#options.allowUnmeasuredEngines === true || engineClass !== 'unmeasured'
  }

  /**
   * The tolerance for comparing a provider's commitments with this router's re-execution, for its
   * engine class: the calibrated one on the same engine, the measured cross-build one on another CPU
   * build ({@link toleranceForOtherCpuBuild}), the loose cross-build one for unmeasured engines (judged
   * only when the operator opted in, `allowUnmeasuredEngines`; it still catches another model).
   */
  toleranceFor(modelHash: Uint8Array, providerEngine: EngineInfoMessage | undefined): Tolerance {
    if (this.#options.tolerance) return this.#options.tolerance
    const quantization = this.engineFor(modelHash)?.summary.quantization
    if (quantization === undefined) return CALIBRATED_TOLERANCE
    const engineClass = this.engineClass(modelHash, providerEngine)
    if (engineClass === 'other-cpu-build') return toleranceForOtherCpuBuild(quantization)
    if (engineClass === 'unmeasured' && this.#options.allowUnmeasuredEngines) return CROSS_BUILD_TOLERANCE
    return toleranceForQuantization(quantization)
  }

  /**
   * Honest noise of the per-token check for this provider's hardware class: `exact` for quantised weights
   * on the router's own build decoding one job at a time (bit-exact replay), `same-build` for float
   * weights (with a bit-exact stepwise follow-up of mismatching jobs) and for batched decoding (no
   * follow-up), `other-build` otherwise.
   */
  noiseFor(modelHash: Uint8Array, providerEngine: EngineInfoMessage | undefined): TokenNoise {
    const tolerance = this.toleranceFor(modelHash, providerEngine)
    if (!this.sameEngine(modelHash, providerEngine)) return tokenNoiseFor(tolerance, 'other-build')
    // Several sequences in one decode are not what a solo replay (prefill or stepwise) evaluates.
    const batched = (providerEngine?.parallel ?? 1) > 1
    const quantised = !isFloatWeights(this.engineFor(modelHash)?.summary.quantization ?? 'F32')
    if (!batched && quantised && this.#options.tolerance === undefined)
      return tokenNoiseFor(tolerance, 'exact')
    const noise = tokenNoiseFor(tolerance, 'same-build')
    if (this.#options.stepwiseFollowUp === false) return noise
    // Mismatching jobs are re-checked stepwise: bit-exact for a solo float decode; within the measured
    // batched drift otherwise (a claim of batching must not buy a cheat the prefill's looser bound).
    return { ...noise, stepwise: batched ? batchedStepwiseNoise() : tokenNoiseFor(tolerance, 'exact') }
  }

  /**
   * The tolerance of a stepwise (bit-exact) audit of the opened steps, when this provider's decoding can
   * be reproduced that way: the router's own engine settings, one job at a time, no fixed tolerance.
   */
  exactAuditFor(modelHash: Uint8Array, providerEngine: EngineInfoMessage | undefined): Tolerance | undefined {
    if (this.#options.tolerance !== undefined || this.#options.stepwiseFollowUp === false) return undefined
    if (!this.sameEngine(modelHash, providerEngine) || (providerEngine?.parallel ?? 1) > 1) return undefined
    return EXACT_REPLAY_TOLERANCE
  }

  /**
   * Whether a capability offer describes the router's copy of the model (when it has one): the file
   * behind a hash has one architecture, weight type, size and vocabulary.
   */
  offerMatchesCopy(
    hash: Uint8Array,
    offer: { architecture: string; quantization: string; parameterCount: bigint; vocabSize: number },
  ): boolean {
    const mine = this.engineFor(hash)
    if (mine === undefined) return true
    return (
      offer.architecture === mine.summary.architecture &&
      offer.quantization === mine.summary.quantization &&
      offer.parameterCount === BigInt(mine.summary.parameterCount) &&
      offer.vocabSize === mine.vocabSize
    )
  }

  /** Disposes the models loaded here (not the lent ones). */
  async dispose(): Promise<void> {
    for (const m of this.all) if (m.owned) await m.engine.dispose()
  }
}
