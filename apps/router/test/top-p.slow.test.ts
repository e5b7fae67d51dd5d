import { rmSync } from 'node:fs'
import { join } from 'node:path'
import { createProvider, type Provider } from '@infraxa/provider'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { CompletionRequest } from '../src/http.js'
import { createRouter, type Router } from '../src/index.js'
import { storiesPath, tempDir, wilson } from './support/index.js'

/**
 * top_p on the real model (stories260K) through the real apps: honest nucleus sampling is never accused,
 * in either release mode; a provider that ignores the nucleus (TEST DOUBLE `ignoreTopP`: samples the
 * whole committed top-k) is caught, measured against the honest answers of the same seeds.
 */
const JOBS = Number(process.env.INFRAXA_ATTACK_JOBS ?? 16)
const TOKENS = 32

describe('top_p (nucleus sampling), verified on the real model', () => {
  const dir = tempDir('top-p')
  const stopped: Array<{ stop(): Promise<void> }> = []
  const prompts = Array.from({ length: JOBS }, (_, i) => `${['Once', 'Tom', 'The dog', 'Lily'][i % 4]} ${i}`)
  const request = (content: string, topP: number, seed: number, stream: boolean): CompletionRequest => ({
    model: 'stories260K',
    messages: [{ role: 'user', content }],
    maxTokens: TOKENS,
    temperature: 1,
    topP,
    seed: BigInt(seed),
    stop: [],
    verification: 'merkle',
    stream,
    streamMode: 'verified',
  })

  async function pair(name: string, ignoreTopP: boolean) {
    const provider: Provider = await createProvider({
      models: [{ path: storiesPath(), name: 'stories260K' }],
      dataDir: join(dir, `${name}-p`),
      threads: 1,
      ...(ignoreTopP && { dishonest: { ignoreTopP } }),
    })
    stopped.push(provider)
    const router: Router = await createRouter({
      dataDir: join(dir, `${name}-r`),
      http: false,
      bootstrap: provider.node.multiaddrs.map(String),
      verifyModels: [{ path: storiesPath() }],
      threads: 1,
      probationJobs: 0,
      maxAttempts: 1,
    })
    stopped.push(router)
    return { provider, router }
  }

  let honest: Awaited<ReturnType<typeof pair>>
  /** The honest answer of each prompt × top_p (seed = index). */
  const reference = new Map<string, string>()
  beforeAll(async () => {
    honest = await pair('honest', false)
  }, 120_000)
  afterAll(async () => {
    for (const s of stopped.reverse()) await s.stop().catch(() => {})
    rmSync(dir, { recursive: true, force: true })
  })

  it('honest: every job verifies, held and streamed, at top_p 0.5 and 0.9 (0 false accusations)', async () => {
    let jobs = 0
    let tokens = 0
    let mismatches = 0
    for (const topP of [0.5, 0.9]) {
      for (const [i, content] of prompts.entries()) {
        for (const stream of [false, true]) {
          const r = await honest.router.api.complete(
            request(content, topP, i, stream),
            stream ? () => {} : undefined,
            new AbortController().signal,
          )
          expect(r.receipt.verdict, `${content} top_p ${topP} stream ${stream}`).toBe('verified')
          jobs++
          tokens += r.receipt.token_check?.steps ?? 0
          mismatches += r.receipt.token_check?.mismatches ?? 0
          if (!stream) reference.set(`${topP}\n${content}`, r.text)
          else expect(r.text).toBe(reference.get(`${topP}\n${content}`))
        }
      }
    }
    expect(honest.router.reputation.get(honest.provider.peerId).banned).toBe(false)
    console.log(
      `top_p honest control: ${jobs} jobs, ${tokens} tokens scored, ${mismatches} mismatches, 0 false accusations`,
    )
  }, 600_000)

  it('a provider ignoring top_p 0.5 is caught (measured)', async () => {
    const cheat = await pair('ignores-top-p', true)
    let differed = 0
    let caught = 0
    for (const [i, content] of prompts.entries()) {
      let text: string | undefined
      try {
        text = (
          await cheat.router.api.complete(
            request(content, 0.5, i, false),
            undefined,
            new AbortController().signal,
          )
        ).text
      } catch (error) {
        expect(String((error as Error).message) + String((error as { details?: string }).details)).toMatch(
          /failed verification/,
        )
        caught++
        cheat.router.reputation.pardon(cheat.provider.peerId, 'attack drill')
      }
      if (text === undefined || text !== reference.get(`0.5\n${content}`)) differed++
    }
    console.log(
      `top_p attack (ignores top_p 0.5, T = 1, ${TOKENS} tokens): ${prompts.length} jobs, ${differed} differed, ${caught} caught (${wilson(caught, differed)} % of differed)`,
    )
    expect(differed).toBeGreaterThan(prompts.length / 2)
    // Every job whose answer left the nucleus at a step the verifier is sure of fails; a cheat that
    // happened to stay inside the nucleus (or at its drift-wide edge) is not a cheat on that job.
    expect(caught / differed).toBeGreaterThan(0.6)
  }, 600_000)
})
