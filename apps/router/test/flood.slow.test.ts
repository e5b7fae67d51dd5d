import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { rmSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { createNode, DATA_FRAME, encodeFrame } from '@infraxa/p2p'
import { PROTOCOL_IDS } from '@infraxa/protocol'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type ProviderProcess, quantile, spawnProvider, spawnRouter } from '../bench/processes.js'
import { chat, storiesPath, tempDir } from './support/index.js'

/**
 * Flood drills through the real processes: a provider process, a router process, and one peer in a
 * third process (`support/flood-child.ts`, a test double) flooding the provider with inference
 * requests while this process, the honest client, keeps asking the router for verified completions.
 * Every flood request must end (an answer or a typed refusal: no hang, no crash), the provider must keep
 * serving, and every honest completion must be verified. Prints the honest client's latency idle and
 * during each flood (figures for docs/security.md, not assertions). `INFRAXA_FLOOD_REQUESTS` sets the
 * cheap flood's size (default 10,000); the costly one is a twentieth of it.
 */
const CHEAP = Number(process.env.INFRAXA_FLOOD_REQUESTS ?? 10_000)
const COSTLY = Math.max(64, Math.round(CHEAP / 20))
const IN_FLIGHT = 64

describe('flood drills (real processes)', () => {
  const dir = tempDir('flood')
  let provider: ProviderProcess
  let router: { url: string; stop(): Promise<void> }
  let modelHashHex = ''
  const report: string[] = []

  beforeAll(async () => {
    provider = await spawnProvider([
      '--model',
      storiesPath(),
      '--data-dir',
      join(dir, 'provider'),
      '--threads',
      '1',
    ])
    router = await spawnRouter([
      '--verify-model',
      storiesPath(),
      '--data-dir',
      join(dir, 'router'),
      '--bootstrap',
      provider.multiaddrs[0]!,
      '--http',
      '127.0.0.1:0',
      '--threads',
      '1',
    ])
    // The model's hash as the provider advertises it (what a flooding peer would read too).
    const probe = await createNode({ dht: false })
    try {
      const record = await probe.fetchCapability(provider.multiaddrs[0]!)
      modelHashHex = Buffer.from(record.capability.models[0]!.modelHash).toString('hex')
    } finally {
      await probe.stop()
    }
    await honestOnce(0)
  }, 120_000)

  afterAll(async () => {
    await router?.stop()
    await provider?.stop()
    rmSync(dir, { recursive: true, force: true })
    console.log(
      `\nflood drills (one flooding peer → provider; honest client → router → provider)\n${report.join('\n')}`,
    )
  }, 60_000)

  /** One honest verified completion through the router; resolves with its latency, rejects otherwise. */
  async function honestOnce(i: number): Promise<number> {
    const started = performance.now()
    const { status, json } = await chat(router.url, {
      model: 'stories260K',
      messages: [{ role: 'user', content: `Once upon a time ${i}` }],
      max_tokens: 16,
      temperature: 0,
    })
    if (status !== 200 || json.infraxa?.verdict !== 'verified')
      throw new Error(
        `honest completion ${i}: HTTP ${status} ${json.error?.message ?? json.infraxa?.verdict}`,
      )
    return performance.now() - started
  }

  /** Honest completions one after another until `done` settles (at least `min` of them). */
  async function honestUntil(done: Promise<unknown>, min: number): Promise<number[]> {
    let finished = false
    void done.finally(() => {
      finished = true
    })
    const latencies: number[] = []
    for (let i = 1; !finished || latencies.length < min; i++) latencies.push(await honestOnce(10_000 + i))
    return latencies
  }

  const describeLatency = (xs: number[]) =>
    `p50 ${quantile(xs, 0.5).toFixed(0)} ms, p95 ${quantile(xs, 0.95).toFixed(0)} ms (${xs.length} completions)`

  /** Runs a flood in its own process while the honest client asks one completion after another. */
  async function floodWhileServing(total: number, options: { modelHashHex: string; maxTokens: number }) {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', resolve(import.meta.dirname, 'support/flood-child.ts')],
      {
        stdio: ['pipe', 'pipe', 'inherit'],
        env: {
          ...process.env,
          INFRAXA_FLOOD: JSON.stringify({
            provider: provider.multiaddrs[0],
            total,
            inFlight: IN_FLIGHT,
            ...options,
          }),
        },
      },
    )
    let out = ''
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString()
    })
    const exited = once(child, 'exit')
    try {
      for (let i = 0; !/^ready$/m.test(out); i++) {
        if (i > 600 || child.exitCode !== null) throw new Error(`flood child did not start: ${out}`)
        await new Promise((r) => setTimeout(r, 100))
      }
      child.stdin!.write('go\n')
      const latencies = await honestUntil(exited, 5)
      const [code] = await exited
      const done = /^done (.*)$/m.exec(out)
      if (code !== 0 || !done) throw new Error(`flood child exited with ${code}: ${out.slice(-500)}`)
      const { outcomes, seconds } = JSON.parse(done[1]!) as {
        outcomes: Record<string, number>
        seconds: number
      }
      return { outcomes, seconds, latencies }
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL')
    }
  }

  const summary = (outcomes: Record<string, number>) =>
    Object.entries(outcomes)
      .sort((a, b) => b[1] - a[1])
      .map(([o, n]) => `${o} ${n}`)
      .join(', ')

  it(`idle, then ${CHEAP} cheap requests (a model the provider does not serve) from one peer`, async () => {
    const idle: number[] = []
    for (let i = 0; i < 20; i++) idle.push(await honestOnce(i))
    report.push(`  idle: honest ${describeLatency(idle)}`)
    const { outcomes, seconds, latencies } = await floodWhileServing(CHEAP, {
      modelHashHex: 'ff'.repeat(32),
      maxTokens: 8,
    })
    report.push(
      `  ${CHEAP} cheap requests (unknown model), ${IN_FLIGHT} in flight, ${(CHEAP / seconds).toFixed(0)}/s: ${summary(outcomes)}; honest ${describeLatency(latencies)}`,
    )
    expect(outcomes.hang ?? 0).toBe(0)
    expect(outcomes.crash ?? 0).toBe(0)
    expect(outcomes.ERR_INTERNAL ?? 0).toBe(0)
  }, 1_800_000)

  it(`${COSTLY} generation requests from one peer: the honest client is still served`, async () => {
    const { outcomes, seconds, latencies } = await floodWhileServing(COSTLY, { modelHashHex, maxTokens: 8 })
    report.push(
      `  ${COSTLY} generation requests (8 tokens), ${IN_FLIGHT} in flight, ${(COSTLY / seconds).toFixed(0)}/s: ${summary(outcomes)}; honest ${describeLatency(latencies)}`,
    )
    expect(outcomes.hang ?? 0).toBe(0)
    expect(outcomes.crash ?? 0).toBe(0)
    expect(outcomes.ERR_INTERNAL ?? 0).toBe(0)
    expect(outcomes.answered ?? 0).toBeGreaterThan(0)
  }, 1_800_000)

  it('slow-loris: 100 streams dribbling a request a byte at a time are dropped by the read deadline', async () => {
    // Each stream sends a valid-length frame header and then one byte of it every 250 ms: the whole frame
    // would take minutes. The provider reads a frame against one deadline (10 s), not per byte.
    const attacker = await createNode({ dht: false })
    try {
      const connection = await attacker.connect(provider.multiaddrs[0]!)
      const started = performance.now()
      const streams = await Promise.all(
        Array.from({ length: 100 }, () =>
          connection.newStream(PROTOCOL_IDS.inference, { maxOutboundStreams: 256 }),
        ),
      )
      const frame = encodeFrame(DATA_FRAME, new Uint8Array(2_000).fill(7))
      const droppedAt: number[] = []
      let sentAll = 0
      const dribbling = streams.map(async (stream) => {
        for (let i = 0; i < frame.length; i++) {
          if (stream.status !== 'open' || stream.remoteWriteStatus !== 'writable') {
            droppedAt.push(performance.now() - started)
            return
          }
          stream.send(frame.subarray(i, i + 1))
          await new Promise((r) => setTimeout(r, 250))
        }
        sentAll++
      })
      const during = await honestUntil(Promise.all(dribbling), 5)
      report.push(
        `  slow-loris: 100 streams, a byte per 250 ms: ${droppedAt.length} dropped after ${(quantile(droppedAt, 0.5) / 1000).toFixed(1)} s (p50), ${(quantile(droppedAt, 1) / 1000).toFixed(1)} s (max); honest ${describeLatency(during)}`,
      )
      expect(sentAll).toBe(0)
      expect(droppedAt.length).toBe(100)
    } finally {
      await attacker.stop()
    }
  }, 300_000)
})
