import type { DatabaseSync } from 'node:sqlite'
import type { TokenVerdict } from '@infraxa/proofs/audit'
import {
  create,
  decodeEnvelope,
  encodeEnvelope,
  type InferenceRequest,
  type InferenceResponse,
  openEnvelope,
  type SignedEnvelope,
  TokenCheckSchema,
} from '@infraxa/protocol'

const b64 = (b: Uint8Array) => Buffer.from(b).toString('base64')
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex')

/** The receipt's record of a per-token verdict. */
export function tokenCheckMessage(v: TokenVerdict) {
  return create(TokenCheckSchema, {
    steps: v.steps,
    mismatches: v.mismatches,
    largestMargin: Number.isFinite(v.largestMargin) ? v.largestMargin : -1,
    pValue: v.pValue,
    verdict: v.verdict,
  })
}

/**
 * A receipt's id from a completion id (`chatcmpl-…`, `cmpl-…` of an answer not streamed, which name the
 * receipt of their job) or the id itself.
 */
export function receiptIdOf(id: string): string {
  return id.replace(/^(chat)?cmpl-/, '')
}

/** Signed receipts (RECEIPT envelopes signed by the router), kept in SQLite and served by id. */
export class ReceiptStore {
  readonly #db: DatabaseSync

  constructor(db: DatabaseSync) {
    this.#db = db
    db.exec(`
      CREATE TABLE IF NOT EXISTS receipts (
        id TEXT PRIMARY KEY,
        envelope BLOB NOT NULL,
        provider TEXT NOT NULL,
        verdict TEXT NOT NULL,
        created_at INTEGER NOT NULL
      );
    `)
  }

  put(id: string, envelope: SignedEnvelope, provider: string, verdict: string): void {
    this.#db
      .prepare(
        'INSERT OR REPLACE INTO receipts (id, envelope, provider, verdict, created_at) VALUES (?, ?, ?, ?, ?)',
      )
      .run(id, encodeEnvelope(envelope), provider, verdict, Date.now())
  }

  /** Receipts still `pending` (optimistic answers the watcher has not settled), oldest first. */
  pending(): Array<{ id: string; envelope: SignedEnvelope; provider: string }> {
    const rows = this.#db
      .prepare("SELECT id, envelope, provider FROM receipts WHERE verdict = 'pending' ORDER BY created_at")
      .all() as Array<{ id: string; envelope: Uint8Array; provider: string }>
    return rows.map((r) => ({
      id: r.id,
      envelope: decodeEnvelope(new Uint8Array(r.envelope)),
      provider: r.provider,
    }))
  }

  getEnvelope(id: string): SignedEnvelope | undefined {
    const row = this.#db.prepare('SELECT envelope FROM receipts WHERE id = ?').get(id) as
      | { envelope: Uint8Array }
      | undefined
    return row ? decodeEnvelope(new Uint8Array(row.envelope)) : undefined
  }

  /** The receipt as JSON: decoded fields for people, the signed envelopes (base64) for re-verification. */
  /**
   * The receipt as JSON. `answerText` derives the answer's text from the signed tokens (the router's
   * tokenizer); without it, or without the model, the text is left out: it is never a provider's say-so.
   */
  view(
    id: string,
    answerText?: (request: InferenceRequest, response: InferenceResponse) => string | undefined,
  ): Record<string, unknown> | undefined {
    const envelope = this.getEnvelope(id)
    if (envelope === undefined) return undefined
    const row = this.#db.prepare('SELECT provider FROM receipts WHERE id = ?').get(id) as { provider: string }
    const { message: r } = openEnvelope('RECEIPT', envelope)
    const open = <T>(f: () => T): T | undefined => {
      try {
        return f()
      } catch {
        return undefined
      }
    }
    const request = r.request ? open(() => openEnvelope('INFERENCE_REQUEST', r.request!).message) : undefined
    const response = r.response
      ? open(() => openEnvelope('INFERENCE_RESPONSE', r.response!).message)
      : undefined
    const challenge = r.challenge
      ? open(() => openEnvelope('AUDIT_CHALLENGE', r.challenge!).message)
      : undefined
    return {
      id,
      job_id: hex(r.jobId),
      provider: row.provider,
      verification: r.verificationMode,
      verdict: r.verdict,
      reason: r.reason,
      streaming: r.streaming || 'none',
      token_check: r.tokenCheck && {
        steps: r.tokenCheck.steps,
        mismatches: r.tokenCheck.mismatches,
        largest_margin: r.tokenCheck.largestMargin,
        p_value: r.tokenCheck.pValue,
        verdict: r.tokenCheck.verdict,
      },
      issued_at_ms: Number(r.issuedAtMs),
      router_public_key: hex(envelope.publicKey),
      request: request && {
        model_hash: hex(request.modelHash),
        messages: request.messages.map((m) => ({ role: m.role, content: m.content })),
        ...(request.prompt !== '' && { prompt: request.prompt }),
        max_tokens: request.sampling?.maxTokens,
        temperature: request.sampling?.temperature,
        ...(request.sampling?.topP && { top_p: request.sampling.topP }),
        seed: String(request.sampling?.seed ?? 0n),
        commit_top_k: request.commitTopK,
        deadline_ms: Number(request.deadlineMs),
      },
      response: response && {
        output_text: request ? answerText?.(request, response) : undefined,
        output_tokens: response.outputTokens.length,
        prompt_tokens: response.promptTokens.length,
        transcript_root: hex(response.transcriptRoot),
        finish_reason: response.finishReason,
        engine: response.engine && { ...response.engine, $typeName: undefined },
      },
      audit: challenge && {
        steps: challenge.steps,
        vrf_public_key: hex(challenge.vrfPublicKey),
        vrf_output: hex(challenge.vrfOutput),
      },
      envelopes: {
        receipt: b64(encodeEnvelope(envelope)),
        request: r.request && b64(encodeEnvelope(r.request)),
        response: r.response && b64(encodeEnvelope(r.response)),
        challenge: r.challenge && b64(encodeEnvelope(r.challenge)),
        audit_proof: r.auditProof && b64(encodeEnvelope(r.auditProof)),
      },
    }
  }
}
