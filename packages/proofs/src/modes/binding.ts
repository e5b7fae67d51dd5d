import {
  bytesEqual,
  type InferenceRequest,
  type InferenceResponse,
  InfraxaError,
  openEnvelope,
  promptTokenHash,
  requestHash,
  type SignedEnvelope,
} from '@infraxa/protocol'

/** A request and the response that answers it, both checked. */
export interface BoundExchange {
  readonly request: InferenceRequest
  readonly response: InferenceResponse
  readonly routerKey: Uint8Array
  readonly providerKey: Uint8Array
}

/**
 * Checks what every mode needs before looking at proofs: both envelopes verify; the response is signed
 * by the provider the request names; it names this request's hash, job id, model and k; the prompt
 * token hash and the step count match what it carries. Returns the reason of the first failure.
 */
export function checkBinding(
  requestEnvelope: SignedEnvelope,
  responseEnvelope: SignedEnvelope,
): { ok: true; exchange: BoundExchange } | { ok: false; reason: string } {
  let request: InferenceRequest
  let response: InferenceResponse
  try {
    request = openEnvelope('INFERENCE_REQUEST', requestEnvelope).message
  } catch (error) {
    return { ok: false, reason: `request: ${describe(error)}` }
  }
  try {
    response = openEnvelope('INFERENCE_RESPONSE', responseEnvelope).message
  } catch (error) {
    return { ok: false, reason: `response: ${describe(error)}` }
  }
  const providerKey = responseEnvelope.publicKey
  if (request.providerPublicKey.length > 0 && !bytesEqual(request.providerPublicKey, providerKey)) {
    return { ok: false, reason: 'response is not signed by the provider the request was addressed to' }
  }
  if (!bytesEqual(response.requestHash, requestHash(requestEnvelope))) {
    return { ok: false, reason: 'response names another request (request hash differs)' }
  }
  if (!bytesEqual(response.jobId, request.jobId))
    return { ok: false, reason: 'job id differs from the request' }
  if (!bytesEqual(response.modelHash, request.modelHash)) {
    return { ok: false, reason: 'response claims another model than the request asked for' }
  }
  if (response.commitTopK !== request.commitTopK)
    return { ok: false, reason: 'commit_top_k differs from the request' }
  if (response.stepCount !== response.outputTokens.length) {
    return {
      ok: false,
      reason: `step count ${response.stepCount} ≠ ${response.outputTokens.length} output tokens`,
    }
  }
  if (response.stepCount < 1) return { ok: false, reason: 'an answer needs at least one step' }
  const maxTokens = request.sampling?.maxTokens ?? 0
  if (response.finishReason === 'length' && response.stepCount !== maxTokens) {
    return {
      ok: false,
      reason: `finish reason "length" after ${response.stepCount} of ${maxTokens} tokens (truncated)`,
    }
  }
  if (!['length', 'eog', 'stop'].includes(response.finishReason)) {
    return { ok: false, reason: `unknown finish reason "${response.finishReason}"` }
  }
  if (maxTokens > 0 && response.stepCount > maxTokens) {
    return { ok: false, reason: `${response.stepCount} steps exceed max_tokens ${maxTokens}` }
  }
  if (!bytesEqual(response.promptTokenHash, promptTokenHash(response.promptTokens))) {
    return { ok: false, reason: 'prompt token hash does not match the prompt tokens' }
  }
  if (response.transcriptRoot.length !== 32) return { ok: false, reason: 'transcript root is not 32 bytes' }
  return { ok: true, exchange: { request, response, routerKey: requestEnvelope.publicKey, providerKey } }
}

function describe(error: unknown): string {
  if (error instanceof InfraxaError) return error.shortMessage
  throw error
}
