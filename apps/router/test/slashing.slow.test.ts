import { rmSync } from 'node:fs'
import { join } from 'node:path'
import {
  connectChain,
  createEmbeddedChain,
  deployStakeContract,
  type EmbeddedChain,
  openStakeContract,
  type StakeContract,
} from '@infraxa/chain'
import { modelIdentity, quantizeModel } from '@infraxa/engine'
import { createProvider, type DishonestBehaviour } from '@infraxa/provider'
import { type Hex, parseEther } from 'viem'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { CompletionRequest } from '../src/http.js'
import { createRouter, type Router } from '../src/index.js'
import { nearTieForgery, randomTokenForgery } from './support/forgeries.js'
import { noisyStories, storiesPath, summaryOf, tempDir, wilson } from './support/index.js'

/**
 * How often a caught cheat is also slashed: each cheating provider (test doubles, one behaviour each)
 * bonds 1 ETH; for every job the router catches, does it find a one-step FRAUD_PROOF, accuse on the
 * embedded chain and win the vote (the router is the adjudicator, quorum 1)? Caught but not slashable
 * means banned only (the near-tie cheats sit inside the per-step tolerance; only the statistics across
 * the answer show them). After each job the ban is pardoned and the slot topped up again, so one identity
 * serves every job. `INFRAXA_SLASH_JOBS` sets the jobs per row (default 8; docs/economics.md ran 50).
 */
const JOBS = Number(process.env.INFRAXA_SLASH_JOBS ?? 8)
const TIMEOUT = Math.max(300_000, JOBS * 20_000)
const STAKE = parseEther('1')

describe('slashing rates per attack (merkle mode, held answers)', () => {
  const dir = tempDir('slashing')
  const stopped: Array<{ stop(): Promise<void> }> = []
  const rows: Array<{ attack: string; jobs: number; caught: number; slashed: number; tokens: number }> = []
  const routerKey = generatePrivateKey()
  let chain: EmbeddedChain
  let contract: StakeContract
  let router: Router
  const funded: Hex[] = Array.from({ length: 8 }, () => generatePrivateKey())
  let nextKey = 0

  beforeAll(async () => {
    chain = await createEmbeddedChain({
      accounts: [routerKey, ...funded].map((k) => ({
        address: privateKeyToAccount(k).address,
        balance: parseEther('1000'),
      })),
    })
    const connection = await connectChain({ embedded: chain }, routerKey)
    contract = await deployStakeContract(connection, {
      adjudicators: [connection.address],
      quorum: 1,
      minBond: parseEther('0.01'),
    })
    router = await createRouter({
      dataDir: join(dir, 'router'),
      http: false,
      verifyModels: [{ path: storiesPath() }],
      threads: 1,
      probationJobs: 0,
      maxAttempts: 1,
      stepwiseAuditRate: 0,
      chain: {
        endpoint: { embedded: chain },
        contract: contract.address,
        privateKey: routerKey,
        pollIntervalMs: 100,
      },
    })
    stopped.push(router)
  })
  afterAll(async () => {
    console.log(
      `\n| attack | tokens | jobs | caught | slashed | slashed % of caught (95% CI) |\n| --- | --- | --- | --- | --- | --- |\n${rows
        .map(
          (r) =>
            `| ${r.attack} | ${r.tokens} | ${r.jobs} | ${r.caught} | ${r.slashed} | ${r.caught === 0 ? '—' : `${((100 * r.slashed) / r.caught).toFixed(1)} (${wilson(r.slashed, r.caught)})`} |`,
        )
        .join('\n')}`,
    )
    for (const s of stopped.reverse()) await s.stop().catch(() => {})
    rmSync(dir, { recursive: true, force: true })
  })

  const request = (content: string, tokens: number): CompletionRequest => ({
    model: 'stories260K',
    messages: [{ role: 'user', content }],
    maxTokens: tokens,
    temperature: 0,
    seed: 0n,
    stop: [],
    verification: 'merkle',
    stream: false,
    streamMode: 'verified',
  })

  async function measure(attack: string, model: string, dishonest?: DishonestBehaviour, tokens = 32) {
    const key = funded[nextKey++]!
    const owner = privateKeyToAccount(key).address
    const provider = await createProvider({
      models: [{ path: model, name: 'stories260K' }],
      dataDir: join(dir, attack.replace(/\W+/g, '-')),
      threads: 1,
      stake: STAKE,
      chain: { endpoint: { embedded: chain }, contract: contract.address, privateKey: key },
      ...(dishonest && { dishonest }),
    })
    stopped.push(provider)
    const own = await openStakeContract(await connectChain({ embedded: chain }, key), contract.address)
    await router.node.libp2p.dial(provider.node.multiaddrs[0]!)
    await router.refresh(2_000)
    const row = { attack, jobs: 0, caught: 0, slashed: 0, tokens }
    const accusationsBefore = await contract.accusationCount()
    for (let i = 0; i < JOBS; i++) {
      const slotBefore = (await contract.stakeOf(provider.publicKey, owner)).amount
      let caught = false
      try {
        await router.api.complete(
          request(`Once upon a time ${i}`, tokens),
          undefined,
          new AbortController().signal,
        )
      } catch (error) {
        caught = /failed verification/.test(String((error as Error).message))
        if (!caught) throw error
      }
      row.jobs++
      if (caught) {
        row.caught++
        // The evidence and the accusation run in the background of the failed job.
        await router.stake!.idle()
        if ((await contract.stakeOf(provider.publicKey, owner)).amount < slotBefore) row.slashed++
        router.reputation.pardon(provider.peerId, 'slashing drill')
      }
      // Topped up again for the next job (and read again by the router).
      const left = (await contract.stakeOf(provider.publicKey, owner)).amount
      if (left < STAKE) await own.stake(provider.publicKey, STAKE - left)
      router.stake?.invalidate(provider.peerId)
    }
    await provider.stop()
    rows.push(row)
    return { ...row, accusations: Number((await contract.accusationCount()) - accusationsBefore) }
  }

  it(
    'honest control: no accusation, nothing slashed',
    async () => {
      const row = await measure('honest control', storiesPath())
      expect(row.caught).toBe(0)
      expect(row.accusations).toBe(0)
    },
    TIMEOUT,
  )

  it(
    'random token forgery (f = 1 and 0.2): every caught job is slashed (the mismatching steps are opened)',
    async () => {
      for (const fraction of [1, 0.2]) {
        const row = await measure(`random forgery f=${fraction}`, storiesPath(), {
          forgeStep: randomTokenForgery({ fraction }),
        })
        expect(row.caught).toBe(row.jobs)
        expect(row.slashed).toBe(row.caught)
      }
    },
    TIMEOUT,
  )

  it(
    'substitutions: weights + noise 0.01, F32 → Q4_0 (the record copied)',
    async () => {
      const noisy = await measure('weights + noise 0.01', await noisyStories(dir, 0.01), {
        claimModelHash: (await summaryHash()).hash,
      })
      expect(noisy.slashed).toBeGreaterThan(0)
      const q4 = join(dir, 'stories-q4_0.gguf')
      await quantizeModel({ from: storiesPath(), to: q4, type: 'q4_0' })
      const swapped = await measure('F32 → Q4_0', q4, {
        claimModelHash: (await summaryHash()).hash,
        claimSummary: await summaryOf(storiesPath()),
      })
      expect(swapped.caught).toBe(swapped.jobs)
    },
    TIMEOUT,
  )

  it(
    'near-tie forgery (f = 1, gap 0.2): caught, not slashable one step at a time',
    async () => {
      const row = await measure('near-tie forgery f=1', storiesPath(), {
        forgeStep: nearTieForgery({ gap: 0.2 }),
      })
      expect(row.caught).toBeGreaterThan(0)
    },
    TIMEOUT,
  )

  /** The hash of stories260K (what a substituting cheater claims). */
  async function summaryHash(): Promise<{ hash: Uint8Array }> {
    const { hashHex } = await modelIdentity(storiesPath())
    return { hash: new Uint8Array(Buffer.from(hashHex, 'hex')) }
  }
})
