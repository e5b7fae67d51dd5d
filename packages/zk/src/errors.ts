import { InfraxaError } from '@infraxa/protocol'

/** The zk circuit artifacts (wasm, zkey, verification key, manifest) are missing or do not match. */
export class ZkArtifactError extends InfraxaError {
  constructor(reason: string, options: { details?: string; cause?: unknown } = {}) {
    super('ERR_ZK_ARTIFACT', `zk artifacts: ${reason}`, options)
  }
}

/**
 * The steps cannot be proved by the zk circuit: not greedy, wrong top-k size, values out of the
 * circuit's range. A programming error of the provider, never a verdict on a peer.
 */
export class ZkUnprovableError extends InfraxaError {
  constructor(reason: string) {
    super('ERR_ZK_UNPROVABLE', `cannot prove: ${reason}`, {
      details:
        'zk_snark mode proves greedy decoding (temperature 0) or poseidon-gumbel sampling (temperature > 0, candidates in canonical order) of committed top-k lists of exactly the circuit k.',
    })
  }
}

/** The prover worker failed (witness calculation or proving crashed, or the worker exited). */
export class ZkProverError extends InfraxaError {
  constructor(reason: string, options: { cause?: unknown } = {}) {
    super('ERR_ZK_PROVER', `zk prover: ${reason}`, options)
  }
}

/** A Groth16 proof, verification key or field element has the wrong size or encoding. */
export class MalformedZkProofError extends InfraxaError {
  constructor(reason: string) {
    super('ERR_MALFORMED_ZK_PROOF', `malformed zk proof: ${reason}`)
  }
}
