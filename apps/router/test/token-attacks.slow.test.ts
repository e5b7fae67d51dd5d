import { rmSync } from 'node:fs'
import { join } from 'node:path'
import { perturbModelWeights, quantizeModel, writeTestModel } from '@infraxa/engine'
import { createProvider, type DishonestBehaviour, type Provider } from '@infraxa/provider'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { CompletionRequest } from '../src/http.js'
import { createRouter, type Router } from '../src/index.js'
import { nearTieForgery, randomTokenForgery } from './support/forgeries.js'
import { noisyStories, storiesPath, summaryOf, tempDir, wilson } from './support/index.js'

/**
 * Cheating providers built from the real provider app (test doubles, one behaviour each) against the
 * real router, measured: per attack and release mode, how many jobs' answers differed from the honest
 * model's and how many of those the router caught (and banned). After each caught job the ban is
 * pardoned, so the same identity keeps serving the next job. `INFRAXA_ATTACK_JOBS` sets the jobs per row
 * (`pnpm test:attacks` runs 200; `pnpm test` a reduced 16).
 */
const JOBS = Number(process.env.INFRAXA_ATTACK_JOBS ?? 16)
const TOKENS = 32
/** Per test: long runs (`pnpm test:attacks`, 10,000-job honest runs) outgrow the slow project's 5 min. */
const TIMEOUT = Math.max(300_000, JOBS * 2_000)

interface Row {
  attack: string
  release: string
  jobs: number
  differed: number
  caught: number
  falseAccusations: number
  /** Per job, the receipt's per-token statistic (jobs whose receipt has one). */
  statistic: Array<{ mismatches: number; steps: number; largestMargin: number; pValue: number }>
  /** Caught jobs, by the check that failed them. */
  caughtBy: Record<string, number>
  /** Jobs whose opened steps the drift trigger sent to a stepwise (bit-exact) re-execution. */
  triggered: number
}

/** The router's count of triggered stepwise audits (its `/metrics`). */
async function triggeredAudits(router: Router): Promise<number> {
  const text = await router.api.metrics()
  return Number(/^infraxa_stepwise_audits_total\{reason="triggered"\} (\d+)/m.exec(text)?.[1] ?? 0)
}

/** Which check a failed receipt's reason names. */
function checkOf(reason: string): string {
  if (/stepwise/.test(reason)) return 'stepwise replay'
  if (/sampler's pick|most likely tokens|nucleus/.test(reason)) return 'token statistic'
  if (/log-prob|top-k|probabilities sum|sampling rule/.test(reason)) return 'opened-step log-probs'
  return 'other'
}

/** The per-token statistic a receipt records (`token_check`), if it has one. */
type TokenCheckView = { steps: number; mismatches: number; largest_margin: number; p_value: number }

const quantile = (values: number[], q: number) =>
  values.length === 0 ? Number.NaN : [...values].sort((a, b) => a - b)[Math.ceil(q * values.length) - 1]!

describe('attack suite: token and weight cheats, measured', () => {
  const dir = tempDir('token-attacks')
  const stopped: Array<{ stop(): Promise<void> }> = []
  const rows: Row[] = []
  const reference = new Map<string, string>()
  const prompts = Array.from(
    { length: JOBS },
    (_, i) => `${['Once', 'Tom', 'The cat', 'Lily', 'One day'][i % 5]} ${i}`,
  )
  const request = (content: string, stream: boolean, tokens = TOKENS): CompletionRequest => ({
    model: 'stories260K',
    messages: [{ role: 'user', content }],
    maxTokens: tokens,
    temperature: 0,
    seed: 0n,
    stop: [],
    verification: 'merkle',
    stream,
    streamMode: 'verified',
  })

  async function pair(
    name: string,
    model: string,
    dishonest?: DishonestBehaviour,
    verify = storiesPath(),
    parallel = 1,
    stepwiseAuditRate = 0,
  ) {
    const provider: Provider = await createProvider({
      models: [{ path: model, name: 'stories260K' }],
      dataDir: join(dir, `${name}-p`),
      threads: 1,
      limits: { maxConcurrentJobs: parallel },
      ...(dishonest && { dishonest }),
    })
    stopped.push(provider)
    const router: Router = await createRouter({
      dataDir: join(dir, `${name}-r`),
      http: false,
      bootstrap: provider.node.multiaddrs.map(String),
      verifyModels: [{ path: verify }],
      threads: 1,
      probationJobs: 0,
      maxAttempts: 1,
      stepwiseAuditRate,
    })
    stopped.push(router)
    return { provider, router }
  }

  /** Hash of each claimed model, by path (its answers are in `reference`, by path, length and prompt). */
  const hashes = new Map<string, Uint8Array>()
  const referenced = new Set<string>()
  async function referenceFor(base: string, tokens = TOKENS): Promise<void> {
    if (referenced.has(`${base}\n${tokens}`)) return
    referenced.add(`${base}\n${tokens}`)
    const { router, provider } = await pair(`reference-${referenced.size}`, base, undefined, base)
    hashes.set(base, provider.models[0]!.hash)
    for (const content of prompts) {
      const answer = await router.api.complete(
        request(content, false, tokens),
        undefined,
        new AbortController().signal,
      )
      reference.set(`${base}\n${tokens}\n${content}`, answer.text)
    }
  }

  /**
   * Runs the jobs of one attack (held, then verified streaming) against a fresh router. `base` is the
   * model the cheater claims (the router's copy; default stories260K F32).
   */
  async function measure(
    attack: string,
    model: string,
    dishonest?: DishonestBehaviour,
    {
      base = storiesPath(),
      parallel = 1,
      stepwiseAuditRate = 0,
      tokens = TOKENS,
    }: { base?: string; parallel?: number; stepwiseAuditRate?: number; tokens?: number } = {},
  ): Promise<Row[]> {
    await referenceFor(base, tokens)
    // Another file is served under the claimed model's hash: what a cheater with a look-alike does.
    const claim = model === base ? dishonest : { ...dishonest, claimModelHash: hashes.get(base)! }
    const { provider, router } = await pair(
      attack.replace(/\W+/g, '-'),
      model,
      claim,
      base,
      parallel,
      stepwiseAuditRate,
    )
    const out: Row[] = []
    for (const release of ['held', 'verified'] as const) {
      const row: Row = {
        attack: tokens === TOKENS ? attack : `${attack}, ${tokens} tokens`,
        release,
        jobs: 0,
        differed: 0,
        caught: 0,
        falseAccusations: 0,
        statistic: [],
        caughtBy: {},
        triggered: 0,
      }
      const triggeredBefore = await triggeredAudits(router)
      for (const content of prompts) {
        let text = ''
        let failed = false
        let caught = false
        let check: TokenCheckView | undefined
        try {
          const result = await router.api.complete(
            request(content, release === 'verified', tokens),
            release === 'verified' ? () => {} : undefined,
            new AbortController().signal,
          )
          text = result.text
          check = result.receipt.token_check
        } catch (error) {
          failed = true
          // Caught: refused by verification, and the provider banned for it (not a transport failure).
          const said = String((error as Error).message) + String((error as { details?: string }).details)
          caught = /failed verification/.test(said)
          const id = /receipt ([0-9a-f]{32})/.exec(said)?.[1]
          const receipt = id ? router.api.receipt(id) : undefined
          check = receipt?.token_check as TokenCheckView | undefined
          if (caught) {
            const by = checkOf(String(receipt?.reason ?? ''))
            row.caughtBy[by] = (row.caughtBy[by] ?? 0) + 1
          }
        }
        if (check)
          row.statistic.push({
            mismatches: check.mismatches,
            steps: check.steps,
            largestMargin: check.largest_margin,
            pValue: check.p_value,
          })
        caught &&= router.reputation.get(provider.peerId).banned
        if (failed && !caught) throw new Error(`${attack}: a job failed without a verdict`)
        row.jobs++
        // The answer differed from the claimed model's (a caught job's answer never reached the client).
        if (caught || text !== reference.get(`${base}\n${tokens}\n${content}`)) row.differed++
        if (caught) row.caught++
        if (caught && claim === undefined) row.falseAccusations++
        // Each job is measured alone: its ban pardoned, and the evidence it added to the provider's
        // running total (the across-jobs test, measured in stream-binding.slow.test.ts) forgotten.
        if (router.reputation.get(provider.peerId).banned)
          router.reputation.pardon(provider.peerId, 'attack drill')
        router.evidence.clear(provider.peerId)
      }
      row.triggered = (await triggeredAudits(router)) - triggeredBefore
      out.push(row)
    }
    rows.push(...out)
    return out
  }

  beforeAll(() => referenceFor(storiesPath()), TIMEOUT)
  afterAll(async () => {
    for (const s of stopped.reverse()) await s.stop().catch(() => {})
    rmSync(dir, { recursive: true, force: true })
    console.log(
      `\nattack suite, stories260K (F32) unless named, greedy, ${TOKENS}-token jobs, ${JOBS} per row`,
    )
    console.log(
      '| attack | release | jobs | answer differed | caught | caught % of differed (95% CI) | caught % of jobs (95% CI) | false accusations | stepwise audits triggered |',
    )
    console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- |')
    for (const r of rows) {
      const pct =
        r.differed === 0
          ? '—'
          : `${((100 * r.caught) / r.differed).toFixed(1)} (${wilson(r.caught, r.differed)})`
      console.log(
        `| ${r.attack} | ${r.release} | ${r.jobs} | ${r.differed} | ${r.caught} | ${pct} | ${((100 * r.caught) / r.jobs).toFixed(1)} (${wilson(r.caught, r.jobs)}) | ${r.falseAccusations} | ${r.triggered} |`,
      )
    }
    // The statistic behind the verdicts, honest vs cheating: tokens per job that are not the verifier's
    // sampler pick, the largest margin by which one loses, and −log10 of the binomial p-value
    // (fail below p = 10^-6, i.e. above 6; grey above 3).
    console.log('\nper-job token statistic (receipts that record one)')
    console.log(
      '| attack | release | jobs with a statistic | mismatches / job p50 / p95 / max | largest margin p50 / max (nats) | −log10 p p50 / max | jobs with −log10 p ≥ 6 | caught by |',
    )
    console.log('| --- | --- | --- | --- | --- | --- | --- | --- |')
    const f = (x: number, digits = 0) => (Number.isFinite(x) ? x.toFixed(digits) : '∞')
    for (const r of rows) {
      const m = r.statistic.map((s) => s.mismatches)
      const margin = r.statistic.map((s) =>
        s.largestMargin < 0 ? Number.POSITIVE_INFINITY : s.largestMargin,
      )
      const lp = r.statistic.map((s) => -Math.log10(Math.max(s.pValue, 1e-300)))
      console.log(
        `| ${r.attack} | ${r.release} | ${r.statistic.length} | ${f(quantile(m, 0.5))} / ${f(quantile(m, 0.95))} / ${f(quantile(m, 1))} | ${f(quantile(margin, 0.5), 3)} / ${f(quantile(margin, 1), 3)} | ${f(quantile(lp, 0.5), 1)} / ${f(quantile(lp, 1), 1)} | ${lp.filter((x) => x >= 6).length} | ${
          Object.entries(r.caughtBy)
            .map(([by, n]) => `${by} ${n}`)
            .join(', ') || '—'
        } |`,
      )
    }
  }, TIMEOUT)

  it(
    'honest control: no false accusation',
    async () => {
      for (const row of await measure('honest control', storiesPath())) {
        expect(row.falseAccusations).toBe(0)
        expect(row.differed).toBe(0)
        // The drift trigger fires on ~3% of honest jobs (measured): a stepwise replay each, no penalty.
        expect(row.triggered).toBeLessThanOrEqual(Math.max(5, Math.ceil(row.jobs / 10)))
      }
    },
    TIMEOUT,
  )

  it(
    'random token forgery on 20% of steps: caught in nearly every job it changed',
    async () => {
      for (const row of await measure('random forgery f=0.2', storiesPath(), {
        forgeStep: randomTokenForgery({ fraction: 0.2 }),
      })) {
        expect(row.differed).toBeGreaterThan(JOBS / 2)
        expect(row.caught / row.differed).toBeGreaterThanOrEqual(row.release === 'verified' ? 0.9 : 0.6)
      }
    },
    TIMEOUT,
  )

  it(
    'random token forgery on 5% of steps, 64-token jobs: every token is scored, so nearly every job is caught (theory with 4 openings: 1 − 0.95^4)',
    async () => {
      const [held, verified] = await measure(
        'random forgery f=0.05',
        storiesPath(),
        { forgeStep: randomTokenForgery({ fraction: 0.05 }) },
        { tokens: 64 },
      )
      // (The forgery picks other steps in each job, so the two rows changed different jobs.) Of all jobs,
      // not only the changed ones: a 64-token job escapes the forgery with probability 0.95^64 = 3.7%.
      for (const row of [held!, verified!]) expect(row.caught / row.jobs).toBeGreaterThanOrEqual(0.8)
    },
    TIMEOUT,
  )

  it(
    'random token forgery on 1% and on every step: the rare forgery is caught whenever it changed the answer',
    async () => {
      for (const row of await measure(
        'random forgery f=0.01',
        storiesPath(),
        { forgeStep: randomTokenForgery({ fraction: 0.01, seed: 3 }) },
        { tokens: 64 },
      ))
        if (row.differed > 0) expect(row.caught / row.differed).toBeGreaterThanOrEqual(0.9)
      for (const row of await measure('random forgery f=1', storiesPath(), {
        forgeStep: randomTokenForgery({ fraction: 1 }),
      }))
        expect(row.caught).toBe(row.jobs)
    },
    TIMEOUT,
  )

  it(
    'near-tie ("stealth") forgery at f = 1, logits nudged to fit: caught by the stepwise follow-up',
    async () => {
      const rowsOut = await measure('near-tie forgery f=1 (gap 0.2)', storiesPath(), {
        forgeStep: nearTieForgery({ gap: 0.2 }),
      })
      // Its margins are within the prefill's honest bound; the stepwise replay of a mismatching job is
      // bit-exact, so a swapped token is a deviation there.
      for (const row of rowsOut) {
        expect(row.differed).toBeGreaterThan(JOBS / 2)
        expect(row.caught / row.differed).toBeGreaterThanOrEqual(0.95)
      }
    },
    TIMEOUT,
  )

  it(
    'a provider claiming batched decoding (parallel 4) gets no cheaper check: honest passes, near-tie caught',
    async () => {
      for (const row of await measure('honest control, parallel 4', storiesPath(), undefined, {
        parallel: 4,
      }))
        expect(row.falseAccusations).toBe(0)
      const rowsOut = await measure(
        'near-tie forgery f=1 (gap 0.2), parallel 4',
        storiesPath(),
        { forgeStep: nearTieForgery({ gap: 0.2 }) },
        { parallel: 4 },
      )
      // The stepwise follow-up runs with the batched drift bound (0.1): swaps past it fail at once.
      for (const row of rowsOut) expect(row.caught / row.differed).toBeGreaterThanOrEqual(0.8)
    },
    TIMEOUT,
  )

  it(
    'near-tie forgery on a quantised model (bit-exact replay): every changed answer caught',
    async () => {
      const q8 = join(dir, 'generated-q8.gguf')
      await writeTestModel({ path: q8, seed: 7, vocab: 512, dim: 96, layers: 2, ff: 192, type: 'q8_0' })
      const rowsOut = await measure(
        'near-tie forgery f=1, generated Q8_0 llama',
        q8,
        { forgeStep: nearTieForgery({ gap: 0.2 }) },
        { base: q8 },
      )
      for (const row of rowsOut) expect(row.caught).toBe(row.differed)
      const honest = await measure('honest control, generated Q8_0 llama', q8, undefined, { base: q8 })
      for (const row of honest) expect(row.falseAccusations).toBe(0)
    },
    TIMEOUT,
  )

  it(
    'a real Q4_0 file served as the Q8_0 model (header and capability record copied): every job caught',
    async () => {
      // The claimed model: stories260K quantised to Q8_0 (a real file, judged bit-exact). The cheater
      // serves the Q4_0 quantisation of the same weights — llama.cpp's Q4_0 kernels, half the memory —
      // under the Q8_0 file's hash and advertising its metadata.
      const q8 = join(dir, 'stories-q8_0.gguf')
      const q4 = join(dir, 'stories-q4_0.gguf')
      await quantizeModel({ from: storiesPath(), to: q8, type: 'q8_0' })
      await quantizeModel({ from: storiesPath(), to: q4, type: 'q4_0' })
      const rowsOut = await measure(
        'Q8_0 → Q4_0 (real Q4_0 file)',
        q4,
        { claimSummary: await summaryOf(q8) },
        { base: q8 },
      )
      // On the bit-exact class the opened steps' log-probs give the swap away even where no token moved.
      for (const row of rowsOut) expect(row.caught).toBe(row.jobs)
      const honest = await measure('honest control, stories260K Q8_0', q8, undefined, { base: q8 })
      for (const row of honest) expect(row.falseAccusations).toBe(0)
    },
    TIMEOUT,
  )

  it(
    'a look-alike model (stories260K weights + noise): measured at three noise levels',
    async () => {
      for (const noise of [0.01, 0.003, 0.001]) {
        const rowsOut = await measure(`weights + noise ${noise}`, await noisyStories(dir, noise))
        // An answer that differs from the claimed model's has a token the exact replay does not pick.
        for (const row of rowsOut)
          if (row.differed > 0) expect(row.caught / row.differed).toBeGreaterThanOrEqual(0.9)
      }
      // Most answers at 0.001–0.003 are unchanged, but their opened steps drift past honest prefill
      // drift: the trigger re-executes them stepwise (bit-exact), so every job is caught.
      for (const row of rows.filter((r) => r.attack.startsWith('weights + noise')))
        expect(row.caught).toBe(row.jobs)
    },
    TIMEOUT,
  )

  it(
    'F32 weights rounded as Q8_0 would hold them, served as the F32 model: every job caught, changed answer or not',
    async () => {
      const path = join(dir, 'stories-as-q8_0.gguf')
      await perturbModelWeights({ from: storiesPath(), to: path, roundTo: 'q8_0' })
      // Q8_0 rounding moves every job's opened steps past the drift trigger (largest |Δ| min 0.059
      // measured, honest max 0.02): each job is re-executed stepwise, bit-exact, or fails the tolerance.
      for (const row of await measure('F32 → Q8_0 weights', path)) expect(row.caught).toBe(row.jobs)
    },
    TIMEOUT,
  )

  it(
    'a precision swap (F32 weights as F16 or Q4_0 would hold them) served as the F32 model: measured',
    async () => {
      for (const roundTo of ['f16', 'q4_0'] as const) {
        const path = join(dir, `stories-as-${roundTo}.gguf`)
        await perturbModelWeights({ from: storiesPath(), to: path, roundTo })
        const rowsOut = await measure(`F32 → ${roundTo.toUpperCase()} weights`, path)
        for (const row of rowsOut)
          if (row.differed > 0) expect(row.caught / row.differed).toBeGreaterThanOrEqual(0.9)
      }
      // Q4_0 rounding: every job caught. F16 rounding moves each opened step by about as much as honest
      // prefill drift does at its worst, but every step: the trigger's mean bound sends nearly every job
      // to the stepwise audit (199 of 200 measured).
      for (const row of rows.filter((r) => r.attack === 'F32 → Q4_0 weights'))
        expect(row.caught).toBe(row.jobs)
      for (const row of rows.filter((r) => r.attack === 'F32 → F16 weights'))
        expect(row.caught).toBeGreaterThanOrEqual(0.9 * row.jobs)
      // With a stepwise (bit-exact) audit on every job, even the swaps that changed no token are caught,
      // and an honest provider still is not.
      const f16 = join(dir, 'stories-as-f16.gguf')
      for (const row of await measure('F32 → F16 weights, stepwise audit of every job', f16, undefined, {
        stepwiseAuditRate: 1,
      }))
        expect(row.caught).toBe(row.jobs)
      for (const row of await measure(
        'honest control, stepwise audit of every job',
        storiesPath(),
        undefined,
        { stepwiseAuditRate: 1 },
      ))
        expect(row.falseAccusations).toBe(0)
    },
    TIMEOUT,
  )
})
