import { RouterRequestError } from './errors.js'

export interface AskOptions {
  readonly router: string
  readonly model: string
  readonly prompt: string
  readonly system?: string
  readonly verification?: string
  readonly maxTokens?: number
  readonly temperature?: number
  readonly seed?: number
  /** Nucleus (top-p) sampling in (0, 1]; unset: none. */
  readonly topP?: number
  readonly stream?: boolean
  /**
   * With `stream`: `verified` (default) gets text a chunk behind the router's re-execution of the tokens;
   * `live` as the provider sends them, unverified until the end (the receipt says so).
   */
  readonly streamMode?: 'verified' | 'live'
  /** Called with each text delta when streaming. */
  readonly onText?: (text: string) => void
  readonly signal?: AbortSignal
}

/** The parts of an OpenAI chat completion (or chunk) the client reads. */
interface CompletionJson {
  id?: string
  choices?: Array<{
    message?: { content?: string }
    delta?: { content?: string }
    finish_reason?: string | null
  }>
  usage?: { prompt_tokens: number; completion_tokens: number }
  infraxa?: Record<string, unknown>
  error?: { message?: string; code?: string }
}

export interface Answer {
  readonly id: string
  readonly text: string
  readonly finishReason: string
  readonly usage: { prompt_tokens: number; completion_tokens: number } | undefined
  readonly receipt: Record<string, unknown>
}

async function routerError(res: Response): Promise<RouterRequestError> {
  let message = `router answered HTTP ${res.status}`
  let code = 'ERR_ROUTER_REQUEST'
  try {
    const body = (await res.json()) as { error?: { message?: string; code?: string } }
    if (body.error?.message) message = body.error.message
    if (body.error?.code) code = body.error.code
  } catch {}
  return new RouterRequestError(message, res.status, code)
}

/**
 * Asks a router for a verified chat completion (OpenAI-compatible API) and returns the answer with its
 * verification receipt.
 *
 * @example
 * const answer = await ask({ router: 'http://127.0.0.1:8080', model: 'stories260K', prompt: 'Once upon a time' })
 * console.log(answer.text, answer.receipt.verdict)
 */
export async function ask(o: AskOptions): Promise<Answer> {
  const body = {
    model: o.model,
    messages: [
      ...(o.system ? [{ role: 'system', content: o.system }] : []),
      { role: 'user', content: o.prompt },
    ],
    max_tokens: o.maxTokens ?? 64,
    temperature: o.temperature ?? 0,
    seed: o.seed ?? 0,
    ...(o.topP !== undefined && { top_p: o.topP }),
    stream: o.stream === true,
    ...(o.streamMode && { stream_mode: o.streamMode }),
    verification: o.verification ?? 'merkle',
  }
  let res: Response
  try {
    res = await fetch(new URL('/v1/chat/completions', o.router), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
      ...(o.signal && { signal: o.signal }),
    })
  } catch (cause) {
    throw new RouterRequestError(`cannot reach the router at ${o.router}: ${(cause as Error).message}`)
  }
  if (!res.ok) throw await routerError(res)
  if (!o.stream) {
    const json = (await res.json()) as CompletionJson
    return {
      id: json.id ?? '',
      text: json.choices?.[0]?.message?.content ?? '',
      finishReason: json.choices?.[0]?.finish_reason ?? '',
      usage: json.usage,
      receipt: json.infraxa ?? {},
    }
  }
  return readStream(res, o.onText)
}

async function readStream(res: Response, onText: ((text: string) => void) | undefined): Promise<Answer> {
  const decoder = new TextDecoder()
  let buffer = ''
  let text = ''
  let id = ''
  let finishReason = ''
  let receipt: Record<string, unknown> = {}
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    buffer += decoder.decode(chunk, { stream: true })
    let end = buffer.indexOf('\n\n')
    while (end >= 0) {
      const event = buffer.slice(0, end)
      buffer = buffer.slice(end + 2)
      end = buffer.indexOf('\n\n')
      const data = event
        .split('\n')
        .filter((l) => l.startsWith('data: '))
        .map((l) => l.slice(6))
        .join('\n')
      if (data === '' || data === '[DONE]') continue
      const json = JSON.parse(data) as CompletionJson
      if (json.error)
        throw new RouterRequestError(json.error.message ?? 'stream failed', undefined, json.error.code)
      id = json.id ?? id
      const choice = json.choices?.[0]
      const delta = choice?.delta?.content
      if (typeof delta === 'string' && delta.length > 0) {
        text += delta
        onText?.(delta)
      }
      if (choice?.finish_reason) finishReason = choice.finish_reason
      if (json.infraxa) receipt = json.infraxa
    }
  }
  return { id, text, finishReason, usage: undefined, receipt }
}
