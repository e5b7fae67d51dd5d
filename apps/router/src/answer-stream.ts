import type { AnswerText, EngineModel } from '@infraxa/engine'
import {
  confirmTokens,
  judgeTokens,
  scoreToken,
  TOKEN_CHECK_EXTRA,
  type TokenNoise,
  type TokenScore,
  type TokenVerdict,
} from '@infraxa/proofs/audit'
import { LOCAL_FAULTS } from '@infraxa/proofs/modes'
import { type SamplingParams, truncates } from '@infraxa/proofs/sampling'
import { InfraxaError } from '@infraxa/protocol'
import { ResumeDivergedError } from './errors.js'

/**
 * How an answer's text reaches the client while the provider streams it:
 * - `verified`: a chunk behind — each chunk of tokens is re-executed by the router (teacher-forced, the
 *   cache kept between chunks) and scored against the seeded sampler before its text is released;
 * - `live`: as it comes, unverified until the end (the client asked for it; the receipt says so);
 * - `held`: nothing before the whole answer is verified.
 */
export type Release = 'verified' | 'live' | 'held'

export interface AnswerStreamOptions {
  /** The router's own copy of the model: its tokenizer makes the text, its replay checks the tokens. */
  readonly engine: EngineModel
  /** The prompt as the router tokenizes the request's messages. */
  readonly promptTokens: readonly number[]
  readonly stop: readonly string[]
  readonly sampling: SamplingParams
  /** The request's commit_top_k. */
  readonly k: number
  /** Honest |Δ log-prob| of the tolerance in force. */
  readonly drift: number
  readonly noise: TokenNoise
  readonly release: Release
  /** Tokens per verified chunk. @default 16 */
  readonly chunkTokens?: number
  readonly maxTokens: number
  /**
   * Part of this answer already reached the client from an attempt whose provider then failed: this
   * attempt must reproduce those tokens (same request and seed), and their text is not sent again.
   */
  readonly resume?: Resume
  readonly onText?: (text: string) => void
  /** Called once, when a verified chunk fails its check: the caller stops the provider's stream. */
  readonly onFailure?: (reason: string) => void
}

/** What an attempt has sent of an answer: the tokens its text came from, and the characters sent. */
export interface Resume {
  readonly tokens: readonly number[]
  readonly chars: number
}

/**
 * One answer as the router receives it: the token ids the provider streams (its text, if any, is never
 * used), turned into text with the router's own tokenizer and released to the client according to
 * {@link Release}. Every released character comes from a token the router received, and in `verified`
 * mode from a token it re-executed and found to be the sampler's pick within honest noise.
 */
export class AnswerStream {
  readonly tokens: number[] = []
  readonly scores: TokenScore[] = []
  readonly #options: AnswerStreamOptions
  readonly #text: AnswerText
  readonly #chunk: number
  #checked = 0
  #checks: Promise<void> = Promise.resolve()
  #localFault: unknown
  #failure: string | undefined
  #delivered = false
  #checkMs = 0
  /** Tokens whose text was made (pushed into the text), and characters of text passed on (or skipped). */
  #made = 0
  #chars = 0

  constructor(options: AnswerStreamOptions) {
    this.#options = options
    this.#text = options.engine.answerText(options.promptTokens, options.stop)
    this.#chunk = options.chunkTokens ?? 16
  }

  /** Why the stream check failed (the provider's fault), if it did. */
  get failure(): string | undefined {
    return this.#failure
  }

  /** Time spent re-executing streamed chunks (verified streaming), in ms. */
  get checkMs(): number {
    return this.#checkMs
  }

  /** Whether any text reached the client. */
  get delivered(): boolean {
    return this.#delivered
  }

  /** What the client has of this answer so far (for a retry elsewhere to resume from). */
  get sent(): Resume {
    const resume = this.#options.resume
    if (resume !== undefined && this.#chars < resume.chars) return resume
    return { tokens: this.tokens.slice(0, this.#made), chars: this.#chars }
  }

  /**
   * Adds the next streamed token. Throws a typed protocol violation for a chunk out of order, a token
   * outside the vocabulary or more tokens than max_tokens allows.
   */
  push(step: number, token: number): void {
    if (step !== this.tokens.length) {
      throw new InfraxaError(
        'ERR_PROTOCOL_VIOLATION',
        `provider streamed step ${step}, expected ${this.tokens.length}`,
      )
    }
    if (this.tokens.length >= this.#options.maxTokens) {
      throw new InfraxaError('ERR_PROTOCOL_VIOLATION', 'provider streamed more than max_tokens allows')
    }
    if (!Number.isInteger(token) || token < 0 || token >= this.#options.engine.vocabSize) {
      throw new InfraxaError(
        'ERR_PROTOCOL_VIOLATION',
        `provider streamed token ${token}, outside the vocabulary`,
      )
    }
    const resumed = this.#options.resume?.tokens
    if (resumed !== undefined && this.tokens.length < resumed.length && token !== resumed[this.tokens.length])
      throw new ResumeDivergedError(
        this.tokens.length,
        `token ${token} where the text already sent has token ${resumed[this.tokens.length]}`,
      )
    this.tokens.push(token)
    if (this.#options.release === 'live') this.#make(this.tokens.length - 1)
    else if (this.#options.release === 'verified' && this.tokens.length - this.#checked >= this.#chunk) {
      this.#checkThrough(this.tokens.length)
    }
  }

  /**
   * The stream ended: checks the last partial chunk (verified), waits for every pending check and
   * rethrows a verifier-side fault (the router's own trouble, never the provider's).
   */
  async finish(): Promise<void> {
    if (this.#options.release === 'verified') this.#checkThrough(this.tokens.length)
    await this.#checks
    if (this.#localFault !== undefined) throw this.#localFault
  }

  /** One verdict over the scored tokens (verified streaming scores them all). */
  verdict(): TokenVerdict {
    return judgeTokens(this.scores, this.#options.noise)
  }

  /**
   * Releases the rest of the text once the whole answer is verified: everything for `held`, the text
   * held back at the end (a possible stop-string prefix, an incomplete character) otherwise.
   */
  releaseRest(): string {
    if (this.#options.release === 'held') for (let t = 0; t < this.tokens.length; t++) this.#make(t)
    this.#deliver(this.#text.end())
    return this.#text.text
  }

  /** Makes the text of token t (the next one) and passes it on. */
  #make(t: number): void {
    this.#made = t + 1
    this.#deliver(this.#text.push(this.tokens[t]!))
  }

  #deliver(text: string): void {
    // Characters a failed earlier attempt already sent (the same text: the same tokens) are not sent again.
    const skip = Math.max(0, Math.min(text.length, (this.#options.resume?.chars ?? 0) - this.#chars))
    this.#chars += text.length
    const piece = text.slice(skip)
    if (piece.length === 0 || this.#options.onText === undefined) return
    this.#delivered = true
    this.#options.onText(piece)
  }

  #checkThrough(end: number): void {
    this.#checks = this.#checks.then(async () => {
      const from = this.#checked
      if (end <= from || this.#failure !== undefined || this.#localFault !== undefined) return
      const { engine, promptTokens, k, sampling, drift, noise } = this.#options
      const positions = Array.from({ length: end - from }, (_, i) => from + i)
      const outputTokens = this.tokens.slice(0, end)
      let verdict: TokenVerdict
      const started = performance.now()
      try {
        const distributions = await engine.replay({
          promptTokens,
          outputTokens,
          positions,
          topK: k + TOKEN_CHECK_EXTRA,
          // Log-prob differences suffice to score the sampler, unless it draws a nucleus (top-p).
          ...(!truncates(sampling) && { relativePositions: positions }),
          reuseCache: true,
        })
        positions.forEach((t, i) => {
          this.scores.push(
            scoreToken({
              step: t,
              token: this.tokens[t]!,
              distribution: distributions[i]!,
              k,
              sampling,
              drift,
            }),
          )
        })
        // The job's verdict so far, before any of this chunk is released; mismatches are re-checked
        // stepwise first when the router can reproduce the provider's decoding (noise.stepwise).
        const confirmed = await confirmTokens({
          executor: engine,
          promptTokens,
          outputTokens,
          scores: this.scores,
          k,
          sampling,
          noise,
        })
        this.scores.splice(0, this.scores.length, ...confirmed.scores)
        verdict = confirmed.verdict
      } catch (error) {
        if (!(error instanceof InfraxaError) || LOCAL_FAULTS.has(error.code)) this.#localFault = error
        else this.#fail(`re-execution rejected the streamed tokens: ${error.shortMessage}`)
        return
      } finally {
        this.#checkMs += performance.now() - started
      }
      if (verdict.verdict === 'fail') {
        this.#fail(verdict.reason)
        return
      }
      for (const t of positions) this.#make(t)
      this.#checked = end
    })
  }

  #fail(reason: string): void {
    this.#failure = reason
    this.#options.onFailure?.(reason)
  }
}
