import { parseArgs } from 'node:util'
import { InfraxaError } from '@infraxa/protocol'
import { ask } from './client.js'

const HELP = `infraxa — ask an Infraxa router for a verified answer

Usage: infraxa --prompt "What is 2+2?" --model <name|hash> [options]

Options:
  --router <url>          router HTTP address (default http://127.0.0.1:8080, env INFRAXA_ROUTER)
  --model <name|hash>     model name or sha256 hash (see GET /v1/models)
  --prompt <text>         the user message
  --system <text>         an optional system message
  --verification <mode>   merkle | fraud_proof | zk_snark | consensus (default merkle)
  --max-tokens <n>        default 64
  --temperature <t>       default 0 (greedy)
  --top-p <p>             nucleus sampling in (0, 1] (default 1: none; verified like the rest)
  --seed <n>              sampling seed (default 0)
  --stream                print text as it arrives: a chunk behind the router's re-execution
  --live                  with --stream: as the provider sends it, unverified until the end
  --json                  print the whole answer and receipt as JSON
  -h, --help              this help
`

export async function main(argv: string[]): Promise<number> {
  let values: Record<string, string | boolean | undefined>
  try {
    ;({ values } = parseArgs({
      args: argv,
      options: {
        router: { type: 'string' },
        model: { type: 'string' },
        prompt: { type: 'string' },
        system: { type: 'string' },
        verification: { type: 'string' },
        'max-tokens': { type: 'string' },
        temperature: { type: 'string' },
        seed: { type: 'string' },
        'top-p': { type: 'string' },
        stream: { type: 'boolean' },
        live: { type: 'boolean' },
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    }))
  } catch (error) {
    process.stderr.write(`infraxa: ${(error as Error).message}\n\n${HELP}`)
    return 2
  }
  if (values.help) {
    process.stdout.write(HELP)
    return 0
  }
  if (typeof values.prompt !== 'string' || typeof values.model !== 'string') {
    process.stderr.write(`infraxa: --prompt and --model are required\n\n${HELP}`)
    return 2
  }
  if (values.live === true && values.stream !== true) {
    process.stderr.write(`infraxa: --live needs --stream (it says how streamed text is released)\n\n${HELP}`)
    return 2
  }
  // Numbers are checked here, before any request: a bad one is a bad argument (exit 2).
  const numbers: Record<string, number> = {}
  for (const [name, fallback] of [
    ['max-tokens', 64],
    ['temperature', 0],
    ['seed', 0],
    ['top-p', 1],
  ] as const) {
    const raw = values[name]
    const n = raw === undefined ? fallback : Number(raw)
    if (typeof raw === 'boolean' || !Number.isFinite(n) || (typeof raw === 'string' && raw.trim() === '')) {
      process.stderr.write(`infraxa: --${name} must be a number, got "${String(raw)}"\n\n${HELP}`)
      return 2
    }
    numbers[name] = n
  }
  try {
    const stream = values.stream === true && values.json !== true
    const answer = await ask({
      router: (values.router as string | undefined) ?? process.env.INFRAXA_ROUTER ?? 'http://127.0.0.1:8080',
      model: values.model,
      prompt: values.prompt,
      ...(typeof values.system === 'string' && { system: values.system }),
      verification: (values.verification as string | undefined) ?? 'merkle',
      maxTokens: numbers['max-tokens']!,
      temperature: numbers.temperature!,
      seed: numbers.seed!,
      ...(values['top-p'] !== undefined && { topP: numbers['top-p']! }),
      stream,
      ...(values.live === true && { streamMode: 'live' as const }),
      ...(stream && { onText: (t: string) => process.stdout.write(t) }),
    })
    if (values.json) {
      process.stdout.write(`${JSON.stringify(answer, null, 2)}\n`)
    } else {
      if (!stream) process.stdout.write(answer.text)
      const r = answer.receipt as {
        receipt_id?: string
        verdict?: string
        reason?: string
        verification?: string
        provider?: string
        model_hash?: string
        audited_steps?: number
        attempts?: number
        streaming?: string
        token_check?: { steps: number; mismatches: number; verdict: string }
        timings_ms?: Record<string, number>
      }
      const timings = Object.entries(r.timings_ms ?? {})
        .map(([k, v]) => `${k} ${v} ms`)
        .join(', ')
      process.stdout.write(
        `\n\n— receipt ${r.receipt_id}\n  verdict:   ${r.verdict}${r.reason ? ` (${r.reason})` : ''} [${r.verification}]\n` +
          `  provider:  ${r.provider}\n  model:     ${r.model_hash}\n  audited:   ${r.audited_steps} steps\n` +
          `  streamed:  ${r.streaming ?? 'none'}\n` +
          (r.token_check
            ? `  tokens:    ${r.token_check.steps} checked, ${r.token_check.mismatches} not the sampler's pick (${r.token_check.verdict})\n`
            : '') +
          `  attempts:  ${r.attempts}\n  timings:   ${timings}\n`,
      )
    }
    return (answer.receipt as { verdict?: string }).verdict === 'failed' ? 1 : 0
  } catch (error) {
    process.stderr.write(`infraxa: ${error instanceof InfraxaError ? error.message : String(error)}\n`)
    return 1
  }
}
