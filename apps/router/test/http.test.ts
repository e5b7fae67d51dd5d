import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import {
  BadRequestError,
  CHAT_PARAMETERS,
  parseCompletionRequest,
  parseTextCompletionRequest,
  TEXT_COMPLETION_PARAMETERS,
  textLogprobs,
} from '../src/index.js'

const limits = { maxTokens: 512, maxMessages: 8, maxChoices: 8 }
const ok = { model: 'm', messages: [{ role: 'user', content: 'hi' }] }

/** The 400 a body gets, as the client sees it: the parameter named and why. */
function refusal(
  body: unknown,
  parse: typeof parseCompletionRequest = parseCompletionRequest,
): { param: string | undefined; message: string } {
  try {
    parse(body, limits)
  } catch (error) {
    expect(error).toBeInstanceOf(BadRequestError)
    return { param: (error as BadRequestError).param, message: (error as BadRequestError).message }
  }
  throw new Error(`accepted ${JSON.stringify(body)}`)
}

// One row per parameter of the table in docs/openai-compat.md: a value that works, and for refused
// parameters one that is refused (naming the parameter).
const ROWS: Record<string, { works: unknown[]; refused: unknown[] }> = {
  model: { works: ['m'], refused: ['', 3] },
  messages: { works: [ok.messages], refused: [[], 'hi'] },
  max_tokens: { works: [1, 512], refused: [0, 513, 1.5] },
  max_completion_tokens: { works: [7], refused: [0] },
  temperature: { works: [0, 1, 2], refused: [-0.1, 3, 'hot'] },
  seed: { works: [0, 9, 2 ** 40], refused: [-1, 1.5] },
  stop: { works: ['END', ['a', 'b']], refused: [[1], ['a', 'b', 'c', 'd', 'e'], ['']] },
  n: { works: [1, 8], refused: [0, 9, 2.5] },
  stream: { works: [true, false], refused: ['yes'] },
  stream_options: { works: [], refused: [{ include_obfuscation: true }, 'x'] },
  logprobs: { works: [true, false], refused: ['yes'] },
  top_logprobs: { works: [], refused: [3] },
  top_p: { works: [1, 0.9, 0.01], refused: [0, 7, -0.5, 'x'] },
  frequency_penalty: { works: [0], refused: [0.5] },
  presence_penalty: { works: [0], refused: [-1] },
  logit_bias: { works: [{}], refused: [{ 5: 10 }] },
  response_format: { works: [{ type: 'text' }], refused: [{ type: 'json_object' }] },
  tools: { works: [[]], refused: [[{ type: 'function', function: { name: 'f' } }]] },
  tool_choice: { works: ['none'], refused: ['auto'] },
  parallel_tool_calls: { works: [true], refused: ['x'] },
  functions: { works: [[]], refused: [[{ name: 'f' }]] },
  function_call: { works: ['none'], refused: ['auto'] },
  audio: { works: [], refused: [{ voice: 'alloy', format: 'mp3' }] },
  modalities: { works: [['text']], refused: [['text', 'audio']] },
  prediction: { works: [], refused: [{ type: 'content', content: 'x' }] },
  reasoning_effort: { works: [], refused: ['low'] },
  verbosity: { works: [], refused: ['low'] },
  web_search_options: { works: [], refused: [{}] },
  store: { works: [false], refused: [true] },
  metadata: { works: [], refused: [{ a: 'b' }] },
  service_tier: { works: ['auto', 'default'], refused: ['flex', 'priority'] },
  user: { works: ['u-1'], refused: [5, 'x'.repeat(513)] },
  safety_identifier: { works: ['s'], refused: [5] },
  prompt_cache_key: { works: ['k'], refused: [5] },
  verification: { works: ['zk_snark'], refused: [3] },
  stream_mode: { works: ['live'], refused: ['fast'] },
  infraxa: { works: [{ verification: 'fraud_proof' }], refused: [] },
}

describe('parseCompletionRequest: every OpenAI chat parameter works or is refused', () => {
  it('has a row for every parameter of the table, and so has docs/openai-compat.md', () => {
    expect(Object.keys(ROWS).sort()).toEqual(Object.keys(CHAT_PARAMETERS).sort())
    const doc = readFileSync(new URL('../../../docs/openai-compat.md', import.meta.url), 'utf8')
    for (const [param, { support }] of Object.entries(CHAT_PARAMETERS))
      expect(doc, param).toContain(`| \`${param}\` | ${support} |`)
  })

  for (const [param, { works, refused }] of Object.entries(ROWS)) {
    it(`${param} (${CHAT_PARAMETERS[param]?.support})`, () => {
      const base =
        param === 'stream_options' || param === 'top_logprobs' ? { ...ok, stream: true, logprobs: true } : ok
      for (const value of works)
        expect(() => parseCompletionRequest({ ...base, [param]: value }, limits)).not.toThrow()
      for (const value of refused) {
        // top_logprobs is refused without logprobs: true.
        const body = { ...base, [param]: value, ...(param === 'top_logprobs' && { logprobs: false }) }
        expect(refusal(body).param ?? '', JSON.stringify(value)).toContain(param)
      }
    })
  }

  it('uses OpenAI’s defaults: temperature 1, a fresh seed per request, one choice', () => {
    const a = parseCompletionRequest(ok, limits)
    const b = parseCompletionRequest(ok, limits)
    expect(a).toMatchObject({
      maxTokens: 128,
      temperature: 1,
      stop: [],
      verification: 'merkle',
      stream: false,
      n: 1,
    })
    expect(a.seed).not.toBe(b.seed)
    expect(parseCompletionRequest({ ...ok, seed: 9 }, limits).seed).toBe(9n)
  })

  it('returns logprobs and usage options, and maps the developer role to system', () => {
    expect(parseCompletionRequest({ ...ok, logprobs: true, top_logprobs: 3 }, limits).logprobs).toEqual({
      top: 3,
    })
    expect(parseCompletionRequest({ ...ok, logprobs: true }, limits).logprobs).toEqual({ top: 0 })
    expect(parseCompletionRequest({ ...ok, logprobs: false }, limits).logprobs).toBeUndefined()
    expect(
      parseCompletionRequest({ ...ok, stream: true, stream_options: { include_usage: true } }, limits)
        .includeUsage,
    ).toBe(true)
    expect(refusal({ ...ok, stream_options: { include_usage: true } }).param).toBe('stream_options')
    expect(refusal({ ...ok, logprobs: true, top_logprobs: 21 }).param).toBe('top_logprobs')
    expect(
      parseCompletionRequest({ ...ok, messages: [{ role: 'developer', content: 'be brief' }] }, limits)
        .messages[0],
    ).toEqual({ role: 'system', content: 'be brief' })
  })

  it('takes OpenAI content parts: text parts joined with newlines', () => {
    const parts = [
      { type: 'text', text: 'Once upon' },
      { type: 'text', text: 'a time' },
    ]
    const r = parseCompletionRequest({ ...ok, messages: [{ role: 'user', content: parts }] }, limits)
    expect(r.messages).toEqual([{ role: 'user', content: 'Once upon\na time' }])
  })

  it('refuses unknown arguments and malformed bodies, naming what is wrong', () => {
    expect(refusal({ ...ok, temprature: 1 })).toMatchObject({ param: 'temprature' })
    expect(refusal({ ...ok, messages: [{ role: 'tool', content: 'x' }] }).param).toBe('messages[0].role')
    expect(refusal({ ...ok, messages: [{ role: 'user', content: 5 }] }).param).toBe('messages[0].content')
    expect(refusal({ ...ok, messages: [{ role: 'user', content: [] }] }).param).toBe('messages[0].content')
    const image = { type: 'image_url', image_url: { url: 'data:image/png;base64,AAAA' } }
    const refusedImage = refusal({
      ...ok,
      messages: [{ role: 'user', content: [{ type: 'text', text: 'x' }, image] }],
    })
    expect(refusedImage.param).toBe('messages[0].content[1]')
    expect(refusedImage.message).toMatch(/"image_url" parts are not supported/)
    expect(refusal({ ...ok, messages: [{ role: 'user', content: [{ type: 'text', text: 7 }] }] }).param).toBe(
      'messages[0].content[0]',
    )
    expect(refusal({ ...ok, messages: Array(9).fill(ok.messages[0]) }).param).toBe('messages')
    expect(refusal({ ...ok, top_p: 7 }).message).toMatch(/top_p.*\(0, 1\]/)
    expect(parseCompletionRequest({ ...ok, top_p: 0.9 }, limits).topP).toBe(0.9)
    expect(parseCompletionRequest({ ...ok, top_p: 1 }, limits).topP).toBeUndefined()
    for (const body of [null, [], 'x', { messages: ok.messages }]) refusal(body)
  })
})

const text = { model: 'm', prompt: 'Once upon a time' }

const textRefusal = (body: unknown) => refusal(body, parseTextCompletionRequest)

// One row per parameter of the /v1/completions table in docs/openai-compat.md.
const TEXT_ROWS: Record<string, { works: unknown[]; refused: unknown[] }> = {
  model: { works: ['m'], refused: [''] },
  prompt: { works: ['x', ['x']], refused: ['', [], ['a', 'b'], [1, 2, 3], [[1, 2]], 5] },
  max_tokens: { works: [1, 512], refused: [0, 513] },
  temperature: { works: [0, 2], refused: [3] },
  seed: { works: [3], refused: [-1] },
  stop: { works: ['\n', ['.', '!']], refused: [['']] },
  n: { works: [1, 8], refused: [9] },
  stream: { works: [true, false], refused: [1] },
  stream_options: { works: [], refused: [{ other: 1 }] },
  logprobs: { works: [0, 5], refused: [6, true, -1] },
  echo: { works: [true, false], refused: ['yes'] },
  best_of: { works: [1], refused: [3] },
  suffix: { works: ['', null], refused: [' the end.'] },
  top_p: { works: [1, 0.5], refused: [0, 1.5] },
  frequency_penalty: { works: [0], refused: [1] },
  presence_penalty: { works: [0], refused: [1] },
  logit_bias: { works: [{}], refused: [{ 3: -100 }] },
  user: { works: ['u'], refused: [1] },
  verification: { works: ['fraud_proof'], refused: [1] },
  stream_mode: { works: ['verified'], refused: ['x'] },
  infraxa: { works: [{ stream_mode: 'live' }], refused: [] },
}

describe('parseTextCompletionRequest: every legacy completions parameter works or is refused', () => {
  it('has a row for every parameter of the table, and so has the /v1/completions table of the docs', () => {
    expect(Object.keys(TEXT_ROWS).sort()).toEqual(Object.keys(TEXT_COMPLETION_PARAMETERS).sort())
    const doc = readFileSync(new URL('../../../docs/openai-compat.md', import.meta.url), 'utf8')
    const section = doc.slice(doc.indexOf('## `POST /v1/completions`'))
    expect(section.length).toBeLessThan(doc.length)
    for (const [param, { support }] of Object.entries(TEXT_COMPLETION_PARAMETERS))
      expect(section, param).toContain(`| \`${param}\` | ${support} |`)
  })

  for (const [param, { works, refused }] of Object.entries(TEXT_ROWS)) {
    it(`${param} (${TEXT_COMPLETION_PARAMETERS[param]?.support})`, () => {
      const base = param === 'stream_options' ? { ...text, stream: true } : text
      for (const value of works)
        expect(() => parseTextCompletionRequest({ ...base, [param]: value }, limits)).not.toThrow()
      for (const value of refused)
        expect(textRefusal({ ...base, [param]: value }).param ?? '', JSON.stringify(value)).toContain(param)
    })
  }

  it('uses OpenAI’s defaults (16 tokens, temperature 1) and carries no chat messages', () => {
    const r = parseTextCompletionRequest(text, limits)
    expect(r).toMatchObject({ prompt: 'Once upon a time', messages: [], maxTokens: 16, temperature: 1, n: 1 })
    expect(r.echo).toBeUndefined()
    expect(parseTextCompletionRequest({ ...text, logprobs: 2 }, limits).logprobs).toEqual({ top: 2 })
    expect(parseTextCompletionRequest({ ...text, echo: true }, limits).echo).toBe(true)
    // echo with logprobs would need the prompt's log-probs: refused, naming echo.
    expect(textRefusal({ ...text, echo: true, logprobs: 1 }).param).toBe('echo')
    // Chat-only parameters are unknown here.
    expect(textRefusal({ ...text, messages: [] }).param).toBe('messages')
    expect(textRefusal({ ...text, tools: [] }).param).toBe('tools')
    for (const body of [null, [], 'x', { model: 'm' }]) textRefusal(body)
  })

  it('writes logprobs as the legacy parallel arrays with text offsets', () => {
    const entry = (token: string, logprob: number) => ({
      token,
      logprob,
      bytes: [],
      top_logprobs: [{ token, logprob, bytes: [] }],
    })
    expect(textLogprobs([entry(' Once', -0.5), entry(' upon', -1)])).toEqual({
      tokens: [' Once', ' upon'],
      token_logprobs: [-0.5, -1],
      top_logprobs: [{ ' Once': -0.5 }, { ' upon': -1 }],
      text_offset: [0, 5],
    })
  })
})
