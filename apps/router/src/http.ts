import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { InfraxaError } from '@infraxa/protocol'
import { DASHBOARD_CSP, DASHBOARD_HTML } from './dashboard-page.js'
import { BadRequestError, PayloadTooLargeError, UnsupportedMediaTypeError } from './errors.js'
import {
  type CompletionRequest,
  parseCompletionRequest,
  parseTextCompletionRequest,
} from './openai-request.js'
import { ChunkWriter, type CompletionResult, completionBody, textCompletionBody } from './openai-response.js'

export type { CompletionRequest } from './openai-request.js'
export type { CompletionReceipt, CompletionResult } from './openai-response.js'

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
  /** What the dashboard page shows: providers, recent jobs, the load series. */
  dashboard(): Record<string, unknown>
}

export interface HttpLimits {
  /** @default 1 MiB */
  maxBodyBytes?: number
  /** @default 4096 */
  maxTokens?: number
  /** @default 256 */
  maxMessages?: number
  /** Most choices (`n`) per request. @default 8 */
  maxChoices?: number
}

const MiB = 1024 * 1024
/** How long an oversize upload is drained (discarded) after its 413 so the client reads the answer. */
const DRAIN_MS = 10_000

/**
 * Reads the body up to `limit` bytes. Past it: rejects at once (the 413 goes out), discards the rest of
 * the upload without buffering it so the client can finish sending and read the answer, and cuts the
 * connection if it goes on longer than {@link DRAIN_MS}.
 */
function readBody(req: IncomingMessage, limit: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    let over = false
    req.on('data', (chunk: Buffer) => {
      size += chunk.length
      if (size <= limit) return void chunks.push(chunk)
      if (over) return
      over = true
      chunks.length = 0
      reject(new PayloadTooLargeError(limit))
      setTimeout(() => req.destroy(), DRAIN_MS).unref()
    })
    req.on('end', () => {
      if (!over) resolve(Buffer.concat(chunks).toString('utf8'))
    })
    req.on('error', reject)
    req.on('close', () => {
      if (!req.complete && !over) reject(new PayloadTooLargeError(limit))
    })
  })
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

/** OpenAI's error shape: `{ error: { message, type, param, code } }`. */
function errorBody(error: InfraxaError): { error: Record<string, unknown> } {
  const status = (error as { status?: number }).status
  return {
    error: {
      message: error.details ? `${error.shortMessage}. ${error.details}` : error.shortMessage,
      type:
        status === 400 || status === 404 || status === 413 || status === 415
          ? 'invalid_request_error'
          : 'infraxa_error',
      param: error instanceof BadRequestError ? (error.param ?? null) : null,
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

/** Whether a declared content type is JSON (`application/json`, parameters such as charset allowed). */
function isJson(contentType: string | undefined): boolean {
  return contentType?.split(';')[0]?.trim().toLowerCase() === 'application/json'
}

function statusOf(error: unknown): number {
  if (error instanceof InfraxaError) return (error as { status?: number }).status ?? 502
  return 500
}

/**
 * The router's HTTP surface: OpenAI-compatible `POST /v1/chat/completions` and the legacy text
 * `POST /v1/completions` (plain, and SSE with `stream: true`), `GET /v1/models`, `GET /v1/receipts/:id`, `GET /health`, `GET /metrics`, and the
 * live dashboard: `GET /` (the page) and `GET /v1/dashboard` (its JSON).
 * Bad input gets a 4xx JSON error; nothing a client sends crashes the process.
 */
export function createHttpServer(api: RouterApi, limitsIn: HttpLimits = {}): Server {
  const limits: Required<HttpLimits> = {
    maxBodyBytes: limitsIn.maxBodyBytes ?? MiB,
    maxTokens: limitsIn.maxTokens ?? 4096,
    maxMessages: limitsIn.maxMessages ?? 256,
    maxChoices: limitsIn.maxChoices ?? 8,
  }
  return createServer((req, res) => {
    handle(api, limits, req, res).catch((error) => {
      if (!res.headersSent) {
        sendJson(
          res,
          statusOf(error),
          error instanceof InfraxaError
            ? errorBody(error)
            : {
                error: { message: 'internal error', type: 'server_error', param: null, code: 'ERR_INTERNAL' },
              },
          {
            ...retryAfterHeaders(error),
            // An upload refused unread (oversize, not JSON) is not read to its end: no reuse.
            ...((error instanceof PayloadTooLargeError || error instanceof UnsupportedMediaTypeError) && {
              connection: 'close',
            }),
          },
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
  const kind = path === '/v1/chat/completions' ? 'chat' : path === '/v1/completions' ? 'text' : undefined
  if (kind !== undefined) {
    if (req.method !== 'POST')
      return sendJson(
        res,
        405,
        { error: { message: 'use POST', type: 'invalid_request_error', param: null, code: 'ERR_METHOD' } },
        { allow: 'POST' },
      )
    if (!isJson(req.headers['content-type'])) {
      req.resume()
      setTimeout(() => req.destroy(), DRAIN_MS).unref()
      throw new UnsupportedMediaTypeError(req.headers['content-type'])
    }
    const declared = Number(req.headers['content-length'])
    if (Number.isFinite(declared) && declared > limits.maxBodyBytes) {
      // Refused before reading: the upload is drained, not buffered.
      req.resume()
      setTimeout(() => req.destroy(), DRAIN_MS).unref()
      throw new PayloadTooLargeError(limits.maxBodyBytes)
    }
    const text = await readBody(req, limits.maxBodyBytes)
    let body: unknown
    try {
      body = JSON.parse(text)
    } catch {
      throw new BadRequestError('body is not valid JSON')
    }
    const request =
      kind === 'chat' ? parseCompletionRequest(body, limits) : parseTextCompletionRequest(body, limits)
    const abort = new AbortController()
    res.on('close', () => {
      if (!res.writableFinished) abort.abort()
    })
    if (!request.stream) {
      const results = await completeChoices(api, request, undefined, abort)
      return sendJson(
        res,
        200,
        kind === 'chat'
          ? completionBody(results)
          : textCompletionBody(results, request.echo ? request.prompt : undefined),
      )
    }
    return streamCompletion(api, request, res, abort, kind)
  }
  if (req.method !== 'GET')
    return sendJson(
      res,
      405,
      { error: { message: 'use GET', type: 'invalid_request_error', param: null, code: 'ERR_METHOD' } },
      { allow: 'GET' },
    )
  if (path === '/v1/models') return sendJson(res, 200, { object: 'list', data: api.models() })
  if (path.startsWith('/v1/receipts/')) {
    const id = decodeURIComponent(path.slice('/v1/receipts/'.length))
    const receipt = api.receipt(id)
    if (receipt === undefined)
      return sendJson(res, 404, {
        error: {
          message: `no receipt "${id}"`,
          type: 'invalid_request_error',
          param: null,
          code: 'ERR_NOT_FOUND',
        },
      })
    return sendJson(res, 200, receipt)
  }
  if (path === '/') {
    res.writeHead(200, {
      'content-type': 'text/html; charset=utf-8',
      'content-length': Buffer.byteLength(DASHBOARD_HTML),
      'content-security-policy': DASHBOARD_CSP,
      'x-content-type-options': 'nosniff',
      'cache-control': 'no-cache',
    })
    return void res.end(DASHBOARD_HTML)
  }
  if (path === '/v1/dashboard') return sendJson(res, 200, api.dashboard(), { 'cache-control': 'no-store' })
  if (path === '/health') return sendJson(res, 200, api.health())
  if (path === '/metrics') {
    const text = await api.metrics()
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' })
    return void res.end(text)
  }
  sendJson(res, 404, {
    error: { message: `no route ${path}`, type: 'invalid_request_error', param: null, code: 'ERR_NOT_FOUND' },
  })
}

/**
 * The `n` choices of a request, each its own job (and receipt) with seed `seed + index`, run at once.
 * One failing fails the request: the others are cancelled (their sequences freed).
 */
async function completeChoices(
  api: RouterApi,
  request: CompletionRequest,
  onText: ((index: number, text: string) => void) | undefined,
  abort: AbortController,
): Promise<CompletionResult[]> {
  const n = request.n ?? 1
  try {
    return await Promise.all(
      Array.from({ length: n }, (_, index) =>
        api.complete(
          { ...request, seed: request.seed + BigInt(index) },
          onText && ((text) => onText(index, text)),
          abort.signal,
        ),
      ),
    )
  } catch (error) {
    abort.abort()
    throw error
  }
}

async function streamCompletion(
  api: RouterApi,
  request: CompletionRequest,
  res: ServerResponse,
  abort: AbortController,
  kind: 'chat' | 'text',
): Promise<void> {
  const chunks = new ChunkWriter(request.model, kind)
  const opened = new Set<number>()
  let started = false
  const send = (data: unknown) => res.write(`data: ${JSON.stringify(data)}\n\n`)
  const start = (index: number) => {
    if (!started) {
      started = true
      res.writeHead(200, {
        'content-type': 'text/event-stream',
        'cache-control': 'no-cache',
        connection: 'keep-alive',
      })
    }
    if (opened.has(index)) return
    opened.add(index)
    const role = chunks.role(index)
    if (role) send(role)
    // echo: the prompt is the start of the choice's text.
    if (request.echo && request.prompt) send(chunks.text(index, request.prompt))
  }
  try {
    const results = await completeChoices(
      api,
      request,
      (index, text) => {
        start(index)
        send(chunks.text(index, text))
      },
      abort,
    )
    results.forEach((result, index) => {
      start(index)
      send(chunks.finish(index, result))
    })
    if (request.includeUsage) send(chunks.usage(results))
    res.write('data: [DONE]\n\n')
    res.end()
  } catch (error) {
    if (!started) throw error
    const body =
      error instanceof InfraxaError
        ? errorBody(error)
        : { error: { message: 'internal error', type: 'server_error', param: null, code: 'ERR_INTERNAL' } }
    send(body)
    res.write('data: [DONE]\n\n')
    res.end()
  }
}
