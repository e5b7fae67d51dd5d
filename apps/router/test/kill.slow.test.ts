import { rmSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { modelIdentity } from '@infraxa/engine'
import { afterAll, describe, expect, it } from 'vitest'
import { type ProviderProcess, spawnBin, spawnProvider, spawnRouter } from '../bench/processes.js'
import { chat, noisyStories, storiesPath, summaryOf, tempDir } from './support/index.js'

/**
 * kill -9 drills through the real processes: a provider killed mid-stream (the client still reads one
 * whole verified answer: the retry elsewhere resumes after the text already sent), and a router killed
 * with a ban and receipts in its database (both there after the restart).
 */
describe('kill -9 drills (real processes)', () => {
  const dir = tempDir('kill')
  const stops: Array<() => Promise<void>> = []
  afterAll(async () => {
    for (const stop of stops.reverse()) await stop().catch(() => {})
    rmSync(dir, { recursive: true, force: true })
  }, 60_000)

  const routerArgs = (name: string, bootstrap: string[]) => [
    '--verify-model',
    storiesPath(),
    '--data-dir',
    join(dir, name),
    ...bootstrap.flatMap((b) => ['--bootstrap', b]),
    '--http',
    '127.0.0.1:0',
    '--threads',
    '1',
    // No probation: answers stream (verified, a chunk behind) from the first job on.
    '--probation-jobs',
    '0',
  ]

  async function activeSequences(p: ProviderProcess): Promise<number> {
    const text = await (
      await fetch(p.metricsUrl.endsWith('/metrics') ? p.metricsUrl : `${p.metricsUrl}/metrics`)
    ).text()
    return [...text.matchAll(/^infraxa_provider_active_sequences\{[^}]*\} (\d+)/gm)].reduce(
      (n, m) => n + Number(m[1]),
      0,
    )
  }

  /** Waits until the router knows `count` providers. */
  async function known(url: string, count: number): Promise<void> {
    for (let i = 0; i < 300; i++) {
      const health = (await (await fetch(`${url}/health`)).json()) as { providers: number }
      if (health.providers >= count) return
      await new Promise((r) => setTimeout(r, 100))
    }
    throw new Error(`the router did not find ${count} providers`)
  }

  it('a provider killed mid-stream: the client reads one whole verified answer', async () => {
    const providers = await Promise.all(
      ['a', 'b'].map((n) =>
        spawnProvider(['--model', storiesPath(), '--data-dir', join(dir, `provider-${n}`), '--threads', '1']),
      ),
    )
    for (const p of providers) stops.push(p.stop)
    const router = await spawnRouter(
      routerArgs(
        'router-1',
        providers.map((p) => p.multiaddrs[0]!),
      ),
    )
    stops.push(router.stop)
    await known(router.url, 2)
    const body = {
      model: 'stories260K',
      messages: [{ role: 'user', content: 'Once upon a time there was a little dragon' }],
      max_tokens: 400,
      temperature: 0,
      stop: [],
    }
    // The answer as a whole, for comparison (greedy: every honest provider gives the same).
    const { json: reference } = await chat(router.url, body)

    const res = await fetch(`${router.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ ...body, stream: true }),
    })
    const reader = res.body!.getReader()
    const decoder = new TextDecoder()
    let sse = ''
    let killed: ProviderProcess | undefined
    for (;;) {
      const { value, done } = await reader.read()
      if (done) break
      sse += decoder.decode(value, { stream: true })
      // Once text has arrived, the provider decoding it is killed (-9: no goodbye, no closing frames).
      if (killed === undefined && /"content":"[^"]/.test(sse)) {
        for (const p of providers)
          if ((await activeSequences(p)) > 0) {
            killed = p
            break
          }
        if (killed !== undefined) await killed.kill('SIGKILL')
      }
    }
    expect(killed).toBeDefined()
    const events = sse
      .split('\n')
      .filter((l) => l.startsWith('data: ') && l !== 'data: [DONE]')
      .map((l) => JSON.parse(l.slice(6)) as Record<string, unknown>)
    expect(events.filter((e) => 'error' in e)).toEqual([])
    const text = events
      .map(
        (e) => (e.choices as Array<{ delta?: { content?: string } }> | undefined)?.[0]?.delta?.content ?? '',
      )
      .join('')
    // One whole answer, each character once, and verified (the retry's receipt).
    expect(text).toBe(reference.choices[0]!.message.content)
    const receipt = events.findLast((e) => 'infraxa' in e)?.infraxa as { verdict: string; attempts: number }
    expect(receipt).toMatchObject({ verdict: 'verified', attempts: 2 })
  }, 300_000)

  it('a router killed with a ban and receipts in its database keeps both after the restart', async () => {
    // A cheater (a look-alike model under stories260K's hash, in its own process) and an honest provider.
    const honest = await spawnProvider([
      '--model',
      storiesPath(),
      '--data-dir',
      join(dir, 'honest'),
      '--threads',
      '1',
    ])
    stops.push(honest.stop)
    const noisy = await noisyStories(dir, 0.05)
    const { hashHex } = await modelIdentity(storiesPath())
    const cheat = await spawnBin(
      resolve(import.meta.dirname, 'support/provider-child.ts'),
      [],
      /^ready .*$/m,
      90_000,
      {
        nodeArgs: ['--import', 'tsx'],
        env: {
          INFRAXA_TEST_PROVIDER: JSON.stringify({
            models: [{ path: noisy, name: 'stories260K' }],
            dataDir: join(dir, 'cheat'),
            threads: 1,
            parallel: 1,
            claim: {
              modelHashHex: hashHex,
              summary: await summaryOf(storiesPath()),
            },
          }),
        },
      },
    )
    stops.push(cheat.stop)
    const cheatInfo = JSON.parse(/^ready (.*)$/m.exec(cheat.out)![1]!) as {
      peerId: string
      multiaddrs: string[]
    }
    const args = routerArgs('router-2', [honest.multiaddrs[0]!, cheatInfo.multiaddrs[0]!])
    const first = await spawnRouter(args)
    await known(first.url, 2)
    const receipts: string[] = []
    type Health = { reputation: Array<{ peer_id: string; banned: boolean; ban_reason?: string }> }
    const health = async (url: string) => (await (await fetch(`${url}/health`)).json()) as Health
    // Until the cheater has been chosen once (and caught: the client's answer then came from the honest one).
    for (let i = 0; i < 40 && !(await health(first.url)).reputation.some((r) => r.banned); i++) {
      const { json } = await chat(first.url, {
        model: 'stories260K',
        messages: [{ role: 'user', content: `Once upon a time ${i}` }],
        max_tokens: 16,
        temperature: 0,
      })
      expect(json.infraxa.verdict).toBe('verified')
      receipts.push(json.infraxa.receipt_id)
    }
    const before = await health(first.url)
    const banned = before.reputation.find((r) => r.peer_id === cheatInfo.peerId)
    // The cheater served its first job(s) and was caught: banned (the client got answers from the honest one).
    expect(banned?.banned).toBe(true)
    await first.kill('SIGKILL')

    const second = await spawnRouter(args)
    stops.push(second.stop)
    const after = await health(second.url)
    expect(after.reputation.find((r) => r.peer_id === cheatInfo.peerId)).toMatchObject({
      banned: true,
      ban_reason: banned!.ban_reason,
    })
    for (const id of receipts) {
      const res = await fetch(`${second.url}/v1/receipts/${id}`)
      expect(res.status).toBe(200)
      expect(((await res.json()) as { verdict: string }).verdict).toBe('verified')
    }
  }, 300_000)

  it('a router killed with optimistic receipts still pending settles every one after the restart', async () => {
    // Both providers answer audits only after 4 s (TEST DOUBLE: a slow provider), so the watcher of each
    // optimistic answer is still waiting when the router is killed.
    const noisy = await noisyStories(dir, 0.05, 2)
    const { hashHex } = await modelIdentity(storiesPath())
    const child = async (name: string, models: Array<{ path: string; name: string }>, claim?: object) => {
      const proc = await spawnBin(
        resolve(import.meta.dirname, 'support/provider-child.ts'),
        [],
        /^ready .*$/m,
        90_000,
        {
          nodeArgs: ['--import', 'tsx'],
          env: {
            INFRAXA_TEST_PROVIDER: JSON.stringify({
              models,
              dataDir: join(dir, name),
              threads: 1,
              parallel: 1,
              auditDelayMs: 4_000,
              ...(claim && { claim }),
            }),
          },
        },
      )
      stops.push(proc.stop)
      return JSON.parse(/^ready (.*)$/m.exec(proc.out)![1]!) as { peerId: string; multiaddrs: string[] }
    }
    const slowHonest = await child('slow-honest', [{ path: storiesPath(), name: 'stories260K' }])
    const slowCheat = await child('slow-cheat', [{ path: noisy, name: 'stories260K' }], {
      modelHashHex: hashHex,
      summary: await summaryOf(storiesPath()),
    })
    const args = routerArgs('router-3', [slowHonest.multiaddrs[0]!, slowCheat.multiaddrs[0]!])
    const first = await spawnRouter(args)
    await known(first.url, 2)
    const pending = new Map<string, string>()
    // Two at a time: the busy provider's load sends the second request to the other one.
    for (let i = 0; i < 8 && new Set(pending.values()).size < 2; i++) {
      const answers = await Promise.all(
        [0, 1].map((k) =>
          chat(first.url, {
            model: 'stories260K',
            messages: [{ role: 'user', content: `Lily saw a bird ${i} ${k}` }],
            max_tokens: 8,
            temperature: 0,
            verification: 'fraud_proof',
          }),
        ),
      )
      for (const { json } of answers) {
        expect(json.infraxa.verdict).toBe('pending')
        pending.set(json.infraxa.receipt_id, json.infraxa.provider)
      }
    }
    expect(new Set(pending.values())).toEqual(new Set([slowHonest.peerId, slowCheat.peerId]))
    await first.kill('SIGKILL')

    const second = await spawnRouter(args)
    stops.push(second.stop)
    const verdicts = new Map<string, string>()
    const deadline = Date.now() + 90_000
    while (verdicts.size < pending.size && Date.now() < deadline) {
      for (const id of pending.keys()) {
        const res = await fetch(`${second.url}/v1/receipts/${id}`)
        const { verdict } = (await res.json()) as { verdict: string }
        if (verdict !== 'pending') verdicts.set(id, verdict)
      }
      await new Promise((r) => setTimeout(r, 250))
    }
    for (const [id, provider] of pending) {
      expect(verdicts.get(id), `receipt ${id}`).toBe(provider === slowCheat.peerId ? 'failed' : 'verified')
    }
  }, 300_000)
})
