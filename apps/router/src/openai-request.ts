import { randomInt } from 'node:crypto'
import { BadRequestError } from './errors.js'

/** A chat completion request after validation. */
export interface CompletionRequest {
  readonly model: string
  /** Chat messages (`/v1/chat/completions`); empty for a text completion. */
  readonly messages: ReadonlyArray<{ role: string; content: string }>
  /** A text completion's raw prompt (`/v1/completions`): BOS, then the text, no chat template. */
  readonly prompt?: string
  /** Text completion with `echo`: the answer text starts with the prompt. */
  readonly echo?: boolean
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
  /** Nucleus (top-p) truncation in (0, 1); unset = none. */
  readonly topP?: number
  /** Choices to generate (`n`), each its own job with seed `seed + index`. @default 1 */
  readonly n?: number
  /** Return per-token log-probs (the router's own, from re-executing the answer), with this many alternatives. */
  readonly logprobs?: { readonly top: number }
  /** With `stream`: a last chunk carries `usage` (`stream_options.include_usage`). */
  readonly includeUsage?: boolean
}

export interface RequestLimits {
  maxTokens: number
  maxMessages: number
  /** Most choices per request. */
  maxChoices: number
}

/** What the router does with an OpenAI chat-completions parameter: the table of docs/openai-compat.md. */
export type ParameterSupport = 'supported' | 'refused' | 'accepted'

/**
 * Every chat-completions parameter of the OpenAI API, and how this router treats it: `supported` (works,
 * verifiably), `accepted` (no effect on the answer, e.g. an end-user id), `refused` unless it has its
 * neutral value (400 `invalid_request_error` naming it). Anything not listed is refused as unknown.
 */
export const CHAT_PARAMETERS: Readonly<Record<string, { support: ParameterSupport; note: string }>> = {
  model: { support: 'supported', note: 'a model name or hash from GET /v1/models' },
  messages: {
    support: 'supported',
    note: 'system / developer / user / assistant; string content or text parts',
  },
  max_tokens: { support: 'supported', note: '1..limit (default 128)' },
  max_completion_tokens: { support: 'supported', note: 'same as max_tokens' },
  temperature: { support: 'supported', note: '0..2, default 1; seeded sampling the verifier recomputes' },
  seed: {
    support: 'supported',
    note: 'default random; echoed in system_fingerprint and the receipt; choice i uses seed + i',
  },
  stop: { support: 'supported', note: 'a string or up to 4' },
  n: { support: 'supported', note: '1..8 choices, each its own verified job and receipt' },
  stream: { support: 'supported', note: 'SSE chunks, text a chunk behind verification by default' },
  stream_options: { support: 'supported', note: 'include_usage only' },
  logprobs: {
    support: 'supported',
    note: "per-token log-probs from the router's own re-execution of the answer",
  },
  top_logprobs: { support: 'supported', note: '0..20 alternatives per token (with logprobs)' },
  top_p: {
    support: 'supported',
    note: '(0, 1], default 1; nucleus of the committed top-k, recomputed by the verifier',
  },
  frequency_penalty: { support: 'refused', note: 'only 0: penalties are not part of the verified sampler' },
  presence_penalty: { support: 'refused', note: 'only 0: penalties are not part of the verified sampler' },
  logit_bias: { support: 'refused', note: 'only {}: biased logits are not part of the verified sampler' },
  response_format: {
    support: 'refused',
    note: 'only {"type":"text"}: constrained (JSON) decoding is not verifiable yet',
  },
  tools: { support: 'refused', note: 'only []: no tool calling' },
  tool_choice: { support: 'refused', note: 'only "none"' },
  parallel_tool_calls: { support: 'accepted', note: 'no effect without tools' },
  functions: { support: 'refused', note: 'only []: no function calling (deprecated API)' },
  function_call: { support: 'refused', note: 'only "none"' },
  audio: { support: 'refused', note: 'text only' },
  modalities: { support: 'refused', note: 'only ["text"]' },
  prediction: { support: 'refused', note: 'predicted outputs are not supported' },
  reasoning_effort: { support: 'refused', note: 'not a reasoning model' },
  verbosity: { support: 'refused', note: 'not supported' },
  web_search_options: { support: 'refused', note: 'no web search' },
  store: { support: 'refused', note: 'only false: receipts are kept, completions are not stored for reuse' },
  metadata: { support: 'refused', note: 'only with store, which is refused' },
  service_tier: { support: 'accepted', note: '"auto" or "default"; one tier' },
  user: { support: 'accepted', note: 'an end-user id string; no effect on the answer' },
  safety_identifier: { support: 'accepted', note: 'a string; no effect on the answer' },
  prompt_cache_key: { support: 'accepted', note: 'a string; no effect on the answer' },
  // Infraxa's own, beside OpenAI's.
  verification: {
    support: 'supported',
    note: 'infraxa: merkle (default), fraud_proof, zk_snark, consensus, …',
  },
  stream_mode: { support: 'supported', note: 'infraxa: verified (default) or live' },
  infraxa: { support: 'supported', note: 'infraxa: { verification, stream_mode } as one object' },
}

const MAX_TOP_LOGPROBS = 20

function refuse(param: string, why: string): never {
  throw new BadRequestError(`"${param}" ${why}`, param)
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v)

/** Refuses parameters this router cannot honour (unless they hold their neutral value), and unknown ones. */
function checkUnsupported(
  b: Record<string, unknown>,
  known: Readonly<Record<string, { support: ParameterSupport; note: string }>>,
): void {
  for (const key of Object.keys(b)) {
    if (!(key in known)) refuse(key, 'is not a recognised request argument')
  }
  const neutral = (key: string, ok: (v: unknown) => boolean, why: string) => {
    const v = b[key]
    if (v !== undefined && v !== null && !ok(v))
      refuse(key, `is not supported: ${why} (${known[key]?.note ?? ''})`)
  }
  neutral('frequency_penalty', (v) => v === 0, 'the verifier recomputes unpenalised sampling')
  neutral('presence_penalty', (v) => v === 0, 'the verifier recomputes unpenalised sampling')
  neutral(
    'logit_bias',
    (v) => isObject(v) && Object.keys(v).length === 0,
    'the verifier recomputes unbiased sampling',
  )
  neutral('response_format', (v) => isObject(v) && v.type === 'text', 'only plain text can be verified')
  neutral('tools', (v) => Array.isArray(v) && v.length === 0, 'tool calling is not supported')
  neutral('functions', (v) => Array.isArray(v) && v.length === 0, 'function calling is not supported')
  neutral('tool_choice', (v) => v === 'none', 'tool calling is not supported')
  neutral('function_call', (v) => v === 'none', 'function calling is not supported')
  neutral('audio', () => false, 'text only')
  neutral('modalities', (v) => Array.isArray(v) && v.length === 1 && v[0] === 'text', 'text only')
  neutral('prediction', () => false, 'predicted outputs are not supported')
  neutral('reasoning_effort', () => false, 'the models served do not reason')
  neutral('verbosity', () => false, 'not supported')
  neutral('web_search_options', () => false, 'no web search')
  neutral('store', (v) => v === false, 'completions are not stored')
  neutral('metadata', () => false, 'metadata goes with store, which is not supported')
  neutral('service_tier', (v) => v === 'auto' || v === 'default', 'there is one service tier')
  for (const key of ['user', 'safety_identifier', 'prompt_cache_key']) {
    if (b[key] !== undefined && (typeof b[key] !== 'string' || (b[key] as string).length > 512))
      refuse(key, 'must be a string of at most 512 characters')
  }
  if (b.parallel_tool_calls !== undefined && typeof b.parallel_tool_calls !== 'boolean')
    refuse('parallel_tool_calls', 'must be a boolean')
}

/**
 * A message's text: its string content, or its content parts — OpenAI's `[{ type: 'text', text }]`,
 * which SDKs and frameworks send — joined with newlines. Other parts (images, audio, files) are refused:
 * these models read text only.
 */
function messageText(content: unknown, i: number): string {
  if (typeof content === 'string') return content
  if (!Array.isArray(content) || content.length === 0)
    refuse(`messages[${i}].content`, 'must be a string or a non-empty array of text parts')
  return content
    .map((part, j) => {
      if (!isObject(part) || part.type !== 'text' || typeof part.text !== 'string')
        refuse(
          `messages[${i}].content[${j}]`,
          `must be a text part ({ "type": "text", "text": "…" }); ${isObject(part) && typeof part.type === 'string' ? `"${part.type}" parts are not supported (text-only models)` : 'got something else'}`,
        )
      return part.text
    })
    .join('\n')
}

/** Validates an OpenAI chat-completions body (`POST /v1/chat/completions`). */
export function parseCompletionRequest(body: unknown, limits: RequestLimits): CompletionRequest {
  if (!isObject(body)) throw new BadRequestError('body must be a JSON object')
  checkUnsupported(body, CHAT_PARAMETERS)
  if (!Array.isArray(body.messages) || body.messages.length === 0)
    refuse('messages', 'must be a non-empty array')
  if (body.messages.length > limits.maxMessages)
    refuse('messages', `holds at most ${limits.maxMessages} messages`)
  const messages = body.messages.map((m, i) => {
    if (!isObject(m)) refuse(`messages[${i}]`, 'must be an object')
    const { role, content } = m
    if (role !== 'system' && role !== 'user' && role !== 'assistant' && role !== 'developer') {
      refuse(`messages[${i}].role`, 'must be system, developer, user or assistant')
    }
    // OpenAI's "developer" role is the system role of older models.
    return { role: role === 'developer' ? 'system' : role, content: messageText(content, i) }
  })
  return { ...parseShared(body, limits, 128), messages, ...parseChatOnly(body) }
}

function parseShared(b: Record<string, unknown>, limits: RequestLimits, defaultMaxTokens: number) {
  if (typeof b.model !== 'string' || b.model.length === 0) refuse('model', 'must be a non-empty string')
  const tokenParam = b.max_completion_tokens !== undefined ? 'max_completion_tokens' : 'max_tokens'
  const maxTokens = b[tokenParam] ?? Math.min(defaultMaxTokens, limits.maxTokens)
  if (!Number.isInteger(maxTokens) || (maxTokens as number) < 1 || (maxTokens as number) > limits.maxTokens)
    refuse(tokenParam, `must be an integer in 1..${limits.maxTokens}`)
  // OpenAI's default: sample at temperature 1 (pass 0 for greedy).
  const temperature = b.temperature ?? 1
  if (typeof temperature !== 'number' || !Number.isFinite(temperature) || temperature < 0 || temperature > 2)
    refuse('temperature', 'must be a number in 0..2')
  // No seed: a fresh one, so repeated calls differ as they do at OpenAI (it is echoed back).
  const seedRaw = b.seed ?? randomInt(0, 2 ** 48 - 1)
  if (!Number.isSafeInteger(seedRaw) || (seedRaw as number) < 0)
    refuse('seed', 'must be a non-negative integer')
  const stopRaw = b.stop ?? []
  const stop = typeof stopRaw === 'string' ? [stopRaw] : stopRaw
  if (!Array.isArray(stop) || stop.length > 4 || stop.some((s) => typeof s !== 'string' || s.length === 0))
    refuse('stop', 'must be a string or up to 4 non-empty strings')
  const topP = b.top_p ?? 1
  if (typeof topP !== 'number' || !Number.isFinite(topP) || topP <= 0 || topP > 1)
    refuse('top_p', 'must be a number in (0, 1]')
  const n = b.n ?? 1
  if (!Number.isInteger(n) || (n as number) < 1 || (n as number) > limits.maxChoices)
    refuse('n', `must be an integer in 1..${limits.maxChoices}`)
  if (b.stream !== undefined && b.stream !== null && typeof b.stream !== 'boolean')
    refuse('stream', 'must be a boolean')
  const stream = b.stream === true
  let includeUsage = false
  if (b.stream_options !== undefined && b.stream_options !== null) {
    if (!stream) refuse('stream_options', 'is only allowed with stream: true')
    if (!isObject(b.stream_options)) refuse('stream_options', 'must be an object')
    for (const key of Object.keys(b.stream_options)) {
      if (key !== 'include_usage') refuse(`stream_options.${key}`, 'is not supported (include_usage only)')
    }
    const usage = b.stream_options.include_usage
    if (usage !== undefined && typeof usage !== 'boolean')
      refuse('stream_options.include_usage', 'must be a boolean')
    includeUsage = usage === true
  }
  const extension = isObject(b.infraxa) ? b.infraxa : {}
  const verification = b.verification ?? extension.verification ?? 'merkle'
  if (typeof verification !== 'string') refuse('verification', 'must be a string')
  const streamMode = b.stream_mode ?? extension.stream_mode ?? 'verified'
  if (streamMode !== 'verified' && streamMode !== 'live')
    refuse('stream_mode', 'must be "verified" (text a chunk behind its check) or "live"')
  return {
    model: b.model as string,
    maxTokens: maxTokens as number,
    temperature,
    seed: BigInt(seedRaw as number),
    stop: stop as string[],
    verification,
    stream,
    streamMode: streamMode as 'verified' | 'live',
    n: n as number,
    ...(topP < 1 && { topP }),
    includeUsage,
  }
}

function parseChatOnly(b: Record<string, unknown>): Pick<CompletionRequest, 'logprobs'> {
  if (b.logprobs !== undefined && b.logprobs !== null && typeof b.logprobs !== 'boolean')
    refuse('logprobs', 'must be a boolean')
  const top = b.top_logprobs ?? 0
  if (b.top_logprobs !== undefined && b.top_logprobs !== null) {
    if (b.logprobs !== true) refuse('top_logprobs', 'needs logprobs: true')
    if (!Number.isInteger(top) || (top as number) < 0 || (top as number) > MAX_TOP_LOGPROBS)
      refuse('top_logprobs', `must be an integer in 0..${MAX_TOP_LOGPROBS}`)
  }
  return b.logprobs === true ? { logprobs: { top: top as number } } : {}
}

/**
 * Every parameter of OpenAI's legacy text completions (`POST /v1/completions`) and how this router treats
 * it, as {@link CHAT_PARAMETERS} does for chat.
 */
export const TEXT_COMPLETION_PARAMETERS: Readonly<
  Record<string, { support: ParameterSupport; note: string }>
> = {
  model: CHAT_PARAMETERS.model!,
  prompt: {
    support: 'supported',
    note: 'a string (or an array of one string): BOS, then the text, no chat template; token-id prompts are refused',
  },
  max_tokens: { support: 'supported', note: '1..limit (default 16, as OpenAI)' },
  temperature: CHAT_PARAMETERS.temperature!,
  seed: CHAT_PARAMETERS.seed!,
  stop: CHAT_PARAMETERS.stop!,
  n: CHAT_PARAMETERS.n!,
  stream: CHAT_PARAMETERS.stream!,
  stream_options: CHAT_PARAMETERS.stream_options!,
  logprobs: {
    support: 'supported',
    note: "0..5 alternatives per token, from the router's own re-execution of the answer",
  },
  echo: {
    support: 'supported',
    note: 'the prompt before the answer; refused with logprobs (prompt log-probs)',
  },
  best_of: { support: 'refused', note: 'only equal to n: choices are not ranked server-side' },
  suffix: { support: 'refused', note: 'only null/"": insertion (fill-in-the-middle) is not supported' },
  top_p: CHAT_PARAMETERS.top_p!,
  frequency_penalty: CHAT_PARAMETERS.frequency_penalty!,
  presence_penalty: CHAT_PARAMETERS.presence_penalty!,
  logit_bias: CHAT_PARAMETERS.logit_bias!,
  user: CHAT_PARAMETERS.user!,
  verification: CHAT_PARAMETERS.verification!,
  stream_mode: CHAT_PARAMETERS.stream_mode!,
  infraxa: CHAT_PARAMETERS.infraxa!,
}

/** Most prompt characters of a text completion (the HTTP body limit bounds it too). */
const MAX_PROMPT_CHARS = 1_000_000
const MAX_TEXT_LOGPROBS = 5

/** Validates an OpenAI legacy text-completions body (`POST /v1/completions`). */
export function parseTextCompletionRequest(body: unknown, limits: RequestLimits): CompletionRequest {
  if (!isObject(body)) throw new BadRequestError('body must be a JSON object')
  checkUnsupported(body, TEXT_COMPLETION_PARAMETERS)
  let prompt = body.prompt
  if (Array.isArray(prompt)) {
    if (prompt.length === 0 || typeof prompt[0] !== 'string')
      refuse('prompt', 'must be a string or an array of one string (token-id prompts are not supported)')
    if (prompt.length > 1) refuse('prompt', 'holds one prompt per request: send one request per prompt')
    prompt = prompt[0]
  }
  if (typeof prompt !== 'string' || prompt.length === 0) refuse('prompt', 'must be a non-empty string')
  if (prompt.length > MAX_PROMPT_CHARS) refuse('prompt', `holds at most ${MAX_PROMPT_CHARS} characters`)
  const shared = parseShared(body, limits, 16)
  if (body.best_of !== undefined && body.best_of !== null && body.best_of !== shared.n)
    refuse('best_of', `is not supported: choices are not ranked server-side (only best_of = n = ${shared.n})`)
  if (body.suffix !== undefined && body.suffix !== null && body.suffix !== '')
    refuse('suffix', 'is not supported: insertion (fill-in-the-middle) is not offered')
  if (body.echo !== undefined && body.echo !== null && typeof body.echo !== 'boolean')
    refuse('echo', 'must be a boolean')
  let logprobs: { top: number } | undefined
  if (body.logprobs !== undefined && body.logprobs !== null) {
    const top = body.logprobs
    if (!Number.isInteger(top) || (top as number) < 0 || (top as number) > MAX_TEXT_LOGPROBS)
      refuse('logprobs', `must be an integer in 0..${MAX_TEXT_LOGPROBS}`)
    if (body.echo === true)
      refuse('echo', 'is not supported with logprobs: the log-probs of prompt tokens are not returned')
    logprobs = { top: top as number }
  }
  return {
    ...shared,
    messages: [],
    prompt,
    ...(body.echo === true && { echo: true }),
    ...(logprobs && { logprobs }),
  }
}
