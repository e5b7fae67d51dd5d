import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { InfraxaError } from '@infraxa/protocol'
import { BadRequestError, PayloadTooLargeError } from './errors.js'

/** A chat completion request after validation. */
export interface CompletionRequest {
  readonly model: string
  readonly messages: ReadonlyArray<{ role: string; content: string }>
  readonly maxTokens: number
  readonly temperature: number
  readonly seed: bigint
  readonly stop: readonly string[]
  readonly verification: string
  readonly stream: boolean
  /**
   * With `stream`: `verified` (default) releases text a chunk behind the router's re-execution of the
   * streamed tokens; `live` sends it as it comes, unverified until the end (the receipt says so).
   */
  readonly streamMode: 'verified' | 'live'
}

/** The verification summary every completion carries (field `infraxa`, ignored by OpenAI clients). */
export interface CompletionReceipt {
  readonly receipt_id: string
  readonly verification: string
  readonly verdict: 'verified' | 'failed' | 'pending' | 'unaudited'
  readonly reason?: string
  /** How the text reached the client: `none` (after verification), `verified` (a chunk behind), `live`. */
  readonly streaming: 'none' | 'verified' | 'live'
  /** The per-token check: steps scored, mismatches, p-value if honest, verdict. */
  readonly token_check?: {
    readonly steps: number
    readonly mismatches: number
    readonly largest_margin: number
    readonly p_value: number
    readonly verdict: string
  }
  readonly provider: string
  readonly model_hash: string
  readonly audited_steps: number
  readonly attempts: number
  readonly timings_ms: Readonly<Record<string, number>>
}

export interface CompletionResult {
  readonly id: string
  readonly model: string
  readonly text: string
  readonly finishReason: string
  readonly promptTokens: number
  readonly completionTokens: number
  readonly receipt: CompletionReceipt
}

/** What the HTTP layer needs from a router. */
export interface RouterApi {
  complete(
    request: CompletionRequest,
    onText: ((text: string) => void) | undefined,
    signal: AbortSignal,
  ): Promise<CompletionResult>
  models(): Array<Record<string, unknown>>
  receipt(id: string): Record<string, unknown> | undefined
  health(): Record<string, unknown>
  /** Prometheus text exposition. */
  metrics(): Promise<string>
}

export interface HttpLimits {
  /** @default 1 MiB */
  maxBodyBytes?: number
  /** @default 4096 */
  maxTokens?: number
  /** @default 256 */
  maxMessages?: number
}

const MiB = 1024 * 1024

/**
 * Reads the body up to `limit` bytes. Past it, the rest is discarded (not buffered) so the client can
 * finish sending and read the 413; past 16 × limit the connection is cut.
 */
function readBody(req: IncomingMessage, limit: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    req.on('data', (chunk: Buffer) => {
      size += chunk.length
      if (size <= limit) chunks.push(chunk)
      else if (size > 16 * limit) req.destroy()
    })
    req.on('end', () =>
      size > limit
        ? reject(new PayloadTooLargeError(limit))
        : resolve(Buffer.concat(chunks).toString('utf8')),
    )
    req.on('error', reject)
    req.on('close', () => {
      if (!req.complete) reject(new PayloadTooLargeError(limit))
    })
  })
}

/** Validates an OpenAI-style chat completion body. */
export function parseCompletionRequest(body: unknown, limits: Required<HttpLimits>): CompletionRequest {
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw new BadRequestError('body must be a JSON object')
  const b = body as Record<string, unknown>
  if (typeof b.model !== 'string' || b.model.length === 0)
    throw new BadRequestError('"model" must be a non-empty string')
  if (!Array.isArray(b.messages) || b.messages.length === 0)
    throw new BadRequestError('"messages" must be a non-empty array')
  if (b.messages.length > limits.maxMessages)
    throw new BadRequestError(`at most ${limits.maxMessages} messages`)
  const messages = b.messages.map((m, i) => {
    if (typeof m !== 'object' || m === null) throw new BadRequestError(`messages[${i}] must be an object`)
    const { role, content } = m as Record<string, unknown>
    if (role !== 'system' && role !== 'user' && role !== 'assistant') {
      throw new BadRequestError(`messages[${i}].role must be system, user or assistant`)
    }
    if (typeof content !== 'string') throw new BadRequestError(`messages[${i}].content must be a string`)
    return { role, content }
  })
  const maxTokensRaw = b.max_completion_tokens ?? b.max_tokens ?? 128
  if (
    !Number.isInteger(maxTokensRaw) ||
    (maxTokensRaw as number) < 1 ||
    (maxTokensRaw as number) > limits.maxTokens
  ) {
    throw new BadRequestError(`"max_tokens" must be an integer in 1..${limits.maxTokens}`)
  }
  const temperature = b.temperature ?? 0
  if (
    typeof temperature !== 'number' ||
    !Number.isFinite(temperature) ||
    temperature < 0 ||
    temperature > 2
  ) {
    throw new BadRequestError('"temperature" must be a number in 0..2')
  }
  const seedRaw = b.seed ?? 0
  if (!Number.isSafeInteger(seedRaw) || (seedRaw as number) < 0)
    throw new BadRequestError('"seed" must be a non-negative integer')
  const stopRaw = b.stop ?? []
  const stop = typeof stopRaw === 'string' ? [stopRaw] : stopRaw
  if (!Array.isArray(stop) || stop.length > 4 || stop.some((s) => typeof s !== 'string' || s.length === 0)) {
    throw new BadRequestError('"stop" must be a string or up to 4 non-empty strings')
  }
  const extension = (b.infraxa ?? {}) as Record<string, unknown>
  const verification = b.verification ?? extension.verification ?? 'merkle'
  if (typeof verification !== 'string') throw new BadRequestError('"verification" must be a string')
  if (b.stream !== undefined && typeof b.stream !== 'boolean')
    throw new BadRequestError('"stream" must be a boolean')
  const streamMode = b.stream_mode ?? extension.stream_mode ?? 'verified'
  if (streamMode !== 'verified' && streamMode !== 'live')
    throw new BadRequestError('"stream_mode" must be "verified" (text a chunk behind its check) or "live"')
  return {
    model: b.model,
    messages,
    maxTokens: maxTokensRaw as number,
    temperature,
    seed: BigInt(seedRaw as number),
    stop: stop as string[],
    verification,
    stream: b.stream === true,
    streamMode,
  }
}

function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body)
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    ...headers,
  })
  res.end(text)
}

function errorBody(error: InfraxaError): { error: Record<string, unknown> } {
  return {
    error: {
      message: error.details ? `${error.shortMessage}. ${error.details}` : error.shortMessage,
      type: (error as { status?: number }).status === 400 ? 'invalid_request_error' : 'infraxa_error',
      code: error.code,
    },
  }
}

/** `Retry-After` (seconds) and `retry-after-ms`, which OpenAI clients obey, for errors that carry a hint. */
function retryAfterHeaders(error: unknown): Record<string, string> {
  const seconds = (error as { retryAfterSeconds?: unknown } | null)?.retryAfterSeconds
  if (typeof seconds !== 'number' || !Number.isFinite(seconds)) return {}
  return {
    'retry-after': String(Math.max(1, Math.ceil(seconds))),
    'retry-after-ms': String(Math.round(seconds * 1000)),
  }
}

function statusOf(error: unknown): number {
  if (error instanceof InfraxaError) return (error as { status?: number }).status ?? 502
  return 500
}

function completionBody(r: CompletionResult): Record<string, unknown> {
  return {
    id: r.id,
    object: 'chat.completion',
    created: Math.floor(Date.now() / 1000),
    model: r.model,
    choices: [{ index: 0, message: { role: 'assistant', content: r.text }, finish_reason: r.finishReason }],
    usage: {
      prompt_tokens: r.promptTokens,
      completion_tokens: r.completionTokens,
      total_tokens: r.promptTokens + r.completionTokens,
    },
    infraxa: r.receipt,
  }
}

/**
 * The router's HTTP surface: OpenAI-compatible `POST /v1/chat/completions` (plain, and SSE with
 * `stream: true`), `GET /v1/models`, `GET /v1/receipts/:id`, `GET /health`, `GET /metrics`.
 * Bad input gets a 4xx JSON error; nothing a client sends crashes the process.
 */
export function createHttpServer(api: RouterApi, limitsIn: HttpLimits = {}): Server {
  const limits: Required<HttpLimits> = {
    maxBodyBytes: limitsIn.maxBodyBytes ?? MiB,
    maxTokens: limitsIn.maxTokens ?? 4096,
    maxMessages: limitsIn.maxMessages ?? 256,
  }
  return createServer((req, res) => {
    handle(api, limits, req, res).catch((error) => {
      if (!res.headersSent) {
        sendJson(
          res,
          statusOf(error),
          error instanceof InfraxaError
            ? errorBody(error)
            : { error: { message: 'internal error', type: 'server_error', code: 'ERR_INTERNAL' } },
          retryAfterHeaders(error),
        )
      } else {
        res.end()
      }
      if (!(error instanceof InfraxaError)) console.error('router http: unexpected error', error)
    })
  })
}

async function handle(
  api: RouterApi,
  limits: Required<HttpLimits>,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://router')
  const path = url.pathname.replace(/\/+$/, '') || '/'
  if (path === '/v1/chat/completions') {
    if (req.method !== 'POST')
      return sendJson(res, 405, {
        error: { message: 'use POST', type: 'invalid_request_error', code: 'ERR_METHOD' },
      })
    const text = await readBody(req, limits.maxBodyBytes)
    let body: unknown
    try {
      body = JSON.parse(text)
    } catch {
      throw new BadRequestError('body is not valid JSON')
    }
    const request = parseCompletionRequest(body, limits)
    const abort = new AbortController()
    res.on('close', () => {
      if (!res.writableFinished) abort.abort()
    })
    if (!request.stream) {
      const result = await api.complete(request, undefined, abort.signal)
      return sendJson(res, 200, completionBody(result))
    }
    return streamCompletion(api, request, res, abort.signal)
  }
  if (req.method !== 'GET')
    return sendJson(res, 405, {
      error: { message: 'use GET', type: 'invalid_request_error', code: 'ERR_METHOD' },
    })
  if (path === '/v1/models') return sendJson(res, 200, { object: 'list', data: api.models() })
  if (path.startsWith('/v1/receipts/')) {
    const id = decodeURIComponent(path.slice('/v1/receipts/'.length))
    const receipt = api.receipt(id)
    if (receipt === undefined)
      return sendJson(res, 404, {
        error: { message: `no receipt "${id}"`, type: 'invalid_request_error', code: 'ERR_NOT_FOUND' },
      })
    return sendJson(res, 200, receipt)
  }
  if (path === '/health') return sendJson(res, 200, api.health())
  if (path === '/metrics') {
    const text = await api.metrics()
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' })
    return void res.end(text)
  }
  sendJson(res, 404, {
    error: { message: `no route ${path}`, type: 'invalid_request_error', code: 'ERR_NOT_FOUND' },
  })
}

async function streamCompletion(
  api: RouterApi,
  request: CompletionRequest,
  res: ServerResponse,
  signal: AbortSignal,
): Promise<void> {
  const created = Math.floor(Date.now() / 1000)
  let id = 'chatcmpl-pending'
  let started = false
  const send = (data: unknown) => res.write(`data: ${JSON.stringify(data)}\n\n`)
  const start = () => {
    if (started) return
    started = true
    res.writeHead(200, {
      'content-type': 'text/event-stream',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
    })
    send({
      id,
      object: 'chat.completion.chunk',
      created,
      model: request.model,
      choices: [{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }],
    })
  }
  try {
    const result = await api.complete(
      request,
      (text) => {
        start()
        send({
          id,
          object: 'chat.completion.chunk',
          created,
          model: request.model,
          choices: [{ index: 0, delta: { content: text }, finish_reason: null }],
        })
      },
      signal,
    )
    id = result.id
    start()
    send({
      id,
      object: 'chat.completion.chunk',
      created,
      model: result.model,
      choices: [{ index: 0, delta: {}, finish_reason: result.finishReason }],
      infraxa: result.receipt,
    })
    res.write('data: [DONE]\n\n')
    res.end()
  } catch (error) {
    if (!started) throw error
    const body =
      error instanceof InfraxaError
        ? errorBody(error)
        : { error: { message: 'internal error', type: 'server_error', code: 'ERR_INTERNAL' } }
    send(body)
    res.write('data: [DONE]\n\n')
    res.end()
  }
}
