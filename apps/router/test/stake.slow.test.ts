import { rmSync } from 'node:fs'
import { join } from 'node:path'
import {
  type ChainConnection,
  connectChain,
  createEmbeddedChain,
  deployStakeContract,
  type EmbeddedChain,
  openStakeContract,
  type StakeContract,
} from '@infraxa/chain'
import { loadModel } from '@infraxa/engine'
import { createNode } from '@infraxa/p2p'
import { createFraudProof } from '@infraxa/proofs/modes'
import {
  AuditChallengeSchema,
  create,
  decodeEnvelope,
  encodeEnvelope,
  openEnvelope,
  PROTOCOL_IDS,
  signEnvelope,
} from '@infraxa/protocol'
import { createProvider, type Provider } from '@infraxa/provider'
import { formatEther, type Hex, parseEther } from 'viem'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createRouter, type Router } from '../src/index.js'
import { randomTokenForgery } from './support/forgeries.js'
import { chat, storiesPath, tempDir } from './support/index.js'

/**
 * Stake on the embedded chain, end to end: providers bond stake at start (their record names the slot's
 * owner), two routers are the contract's adjudicators (quorum 2). A cheater (test double: it commits
 * another top-k token than the sampler's at every step) serves an optimistic job; router A's watcher
 * proves fraud, builds a one-step FRAUD_PROOF, accuses the cheater's slot with a bond and votes; router
 * B, which never served it, reads the accusation from the chain, re-executes the evidence and votes:
 * slashed. A router with `minStake` never selects an unstaked provider.
 */
const dir = tempDir('stake')
const keys = {
  deployer: generatePrivateKey(),
  routerA: generatePrivateKey(),
  routerB: generatePrivateKey(),
  honest: generatePrivateKey(),
  cheater: generatePrivateKey(),
}
const address = (k: Hex) => privateKeyToAccount(k).address
const stopped: Array<{ stop(): Promise<void> }> = []
let chain: EmbeddedChain
let deployer: ChainConnection
let contract: StakeContract

beforeAll(async () => {
  chain = await createEmbeddedChain({
    accounts: Object.values(keys).map((k) => ({ address: address(k), balance: parseEther('100') })),
  })
  deployer = await connectChain({ embedded: chain }, keys.deployer)
  contract = await deployStakeContract(deployer, {
    adjudicators: [address(keys.routerA), address(keys.routerB)],
    quorum: 2,
    minBond: parseEther('0.1'),
    unbondingSeconds: 3_600,
    votingSeconds: 600,
    slashBps: 10_000,
    rewardBps: 5_000,
  })
})
afterAll(async () => {
  for (const s of stopped.reverse()) await s.stop().catch(() => {})
  rmSync(dir, { recursive: true, force: true })
})

const balance = (k: Hex) => deployer.publicClient.getBalance({ address: address(k) })

describe('stake, fraud and slashing on the embedded chain', () => {
  let honest: Provider
  let cheater: Provider
  let routerA: Router

  it('a proven cheater is slashed by a quorum of two routers; the challenger is paid, the rest burnt', async () => {
    const chainFor = (key: Hex) => ({
      endpoint: { embedded: chain },
      contract: contract.address,
      privateKey: key,
    })
    honest = await createProvider({
      models: [{ path: storiesPath(), name: 'stories260K' }],
      dataDir: join(dir, 'honest'),
      threads: 1,
      stake: parseEther('5'),
      chain: chainFor(keys.honest),
    })
    stopped.push(honest)
    cheater = await createProvider({
      models: [{ path: storiesPath(), name: 'stories260K' }],
      dataDir: join(dir, 'cheater'),
      threads: 1,
      stake: parseEther('5'),
      chain: chainFor(keys.cheater),
      dishonest: { forgeStep: randomTokenForgery({ fraction: 1 }) },
    })
    stopped.push(cheater)
    expect(cheater.stake).toEqual({ owner: address(keys.cheater), amount: parseEther('5'), bonded: true })
    // A restart does not stake again: the slot already holds enough.
    expect((await contract.stakeOf(cheater.publicKey, address(keys.cheater))).amount).toBe(parseEther('5'))

    const routerB = await createRouter({
      dataDir: join(dir, 'router-b'),
      http: false,
      verifyModels: [{ path: storiesPath() }],
      threads: 1,
      chain: { ...chainFor(keys.routerB), pollIntervalMs: 100 },
    })
    stopped.push(routerB)
    routerA = await createRouter({
      dataDir: join(dir, 'router-a'),
      http: '127.0.0.1:0',
      bootstrap: [...honest.node.multiaddrs, ...cheater.node.multiaddrs].map(String),
      verifyModels: [{ path: storiesPath() }],
      threads: 1,
      chain: { ...chainFor(keys.routerA), pollIntervalMs: 100 },
    })
    stopped.push(routerA)
    expect(routerA.stake?.isAdjudicator).toBe(true)
    const balanceBefore = await balance(keys.routerA)

    let cheaterReceipt: string | undefined
    for (let i = 0; i < 20 && cheaterReceipt === undefined; i++) {
      const { status, json } = await chat(routerA.url!, {
        model: 'stories260K',
        messages: [{ role: 'user', content: `Once upon a time ${i}` }],
        max_tokens: 12,
        verification: 'fraud_proof',
      })
      expect(status).toBe(200)
      const settled = await routerA.whenSettled(json.infraxa.receipt_id)
      if (json.infraxa.provider === cheater.peerId) {
        expect(settled.verdict).toBe('failed')
        cheaterReceipt = json.infraxa.receipt_id
      } else {
        expect(settled.verdict).toBe('verified')
      }
    }
    expect(cheaterReceipt).toBeDefined()
    // Router A accused and voted; router B's next poll re-executes the evidence and casts the second vote.
    const deadline = Date.now() + 20_000
    while ((await contract.accusationCount()) === 0n || (await contract.accusation(0n)).status === 'open') {
      if (Date.now() > deadline) throw new Error('no quorum within 20 s')
      await new Promise((r) => setTimeout(r, 100))
    }
    const accusation = await contract.accusation(0n)
    expect(accusation).toMatchObject({
      status: 'upheld',
      guiltyVotes: 2,
      innocentVotes: 0,
      challenger: address(keys.routerA),
      owner: address(keys.cheater),
    })
    expect(Buffer.from(accusation.peerKey).equals(Buffer.from(cheater.publicKey))).toBe(true)
    expect((await contract.stakeOf(cheater.publicKey, address(keys.cheater))).amount).toBe(0n)
    expect((await contract.stakeOf(honest.publicKey, address(keys.honest))).amount).toBe(parseEther('5'))
    expect(await contract.burnt()).toBe(parseEther('2.5'))
    // Router A claims its bond and the reward at its next poll.
    while ((await contract.owed(address(keys.routerA))) > 0n) {
      if (Date.now() > deadline) throw new Error('reward not claimed within 20 s')
      await new Promise((r) => setTimeout(r, 100))
    }
    const gained = (await balance(keys.routerA)) - balanceBefore
    console.log(
      `[stake] cheater slashed 5 ETH: challenger (router A) +${formatEther(gained)} ETH net of gas, burnt ${formatEther(await contract.burnt())} ETH; votes ${accusation.guiltyVotes}/2`,
    )
    expect(gained).toBeGreaterThan(parseEther('2.49'))
    expect(gained).toBeLessThan(parseEther('2.5'))
    // Only one accusation: the job is slashed once.
    expect(await contract.accusationCount()).toBe(1n)
    expect(routerA.reputation.get(cheater.peerId).banned).toBe(true)
  })

  it('a router with minStake never selects an unstaked provider, and selects a staked one', async () => {
    const unstaked = await createProvider({
      models: [{ path: storiesPath(), name: 'stories260K' }],
      dataDir: join(dir, 'unstaked'),
      threads: 1,
      // Claims 100 ETH in its record; the chain says 0.
      stake: parseEther('100'),
    })
    stopped.push(unstaked)
    const router = await createRouter({
      dataDir: join(dir, 'router-min'),
      http: '127.0.0.1:0',
      bootstrap: [...unstaked.node.multiaddrs, ...honest.node.multiaddrs].map(String),
      verifyModels: [{ path: storiesPath() }],
      threads: 1,
      chain: {
        endpoint: { embedded: chain },
        contract: contract.address,
        privateKey: generatePrivateKey(),
        minStake: parseEther('1'),
      },
    })
    stopped.push(router)
    expect(router.stake?.isAdjudicator).toBe(false)
    const servedBy = new Set<string>()
    for (let i = 0; i < 6; i++) {
      const { status, json } = await chat(router.url!, {
        model: 'stories260K',
        messages: [{ role: 'user', content: `A bird ${i}` }],
        max_tokens: 4,
      })
      expect(status).toBe(200)
      servedBy.add(json.infraxa.provider)
    }
    expect([...servedBy]).toEqual([honest.peerId])
    expect(router.stake?.stakeOf(unstaked.peerId)).toBe(0n)
    expect(router.stake?.stakeOf(honest.peerId)).toBe(parseEther('5'))
  })

  it('a false accusation (an honest step as evidence) is voted innocent by both routers: the bond burnt, the stake intact', async () => {
    // A challenger with its own chain account accuses the honest provider, with a well-formed FRAUD_PROOF
    // of a step that matches the model (TEST DOUBLE: a greedy or mistaken accuser).
    const { json } = await chat(routerA.url!, {
      model: 'stories260K',
      messages: [{ role: 'user', content: 'The sun was warm' }],
      max_tokens: 8,
      verification: 'fraud_proof',
    })
    expect(json.infraxa.provider).toBe(honest.peerId)
    await routerA.whenSettled(json.infraxa.receipt_id)
    const receipt = routerA.api.receipt(json.infraxa.receipt_id) as any
    const request = decodeEnvelope(Buffer.from(receipt.envelopes.request, 'base64'))
    const response = decodeEnvelope(Buffer.from(receipt.envelopes.response, 'base64'))
    const res = openEnvelope('INFERENCE_RESPONSE', response).message
    const accuser = await createNode({ dataDir: join(dir, 'accuser') })
    stopped.push(accuser)
    // The provider opens audits only for the router that sent the job: the accuser asks through router A.
    const challenge = signEnvelope(
      'AUDIT_CHALLENGE',
      create(AuditChallengeSchema, { jobId: res.jobId, transcriptRoot: res.transcriptRoot, steps: [1] }),
      routerA.node.signer,
    )
    const opened = openEnvelope(
      'AUDIT_PROOF',
      decodeEnvelope(
        await routerA.node.request(honest.peerId, PROTOCOL_IDS.audit, encodeEnvelope(challenge)),
      ),
    ).message
    const engine = await loadModel({ path: storiesPath(), threads: 1 })
    const [recomputed] = await engine.replay({
      promptTokens: res.promptTokens,
      outputTokens: res.outputTokens,
      positions: [1],
      topK: res.commitTopK,
    })
    await engine.dispose()
    const evidence = createFraudProof({
      request,
      response,
      opening: opened.openings[0]!,
      siblings: opened.siblings,
      recomputed: recomputed!,
      bond: 0n,
      challenger: accuser.signer,
    })
    const accuserKey = generatePrivateKey()
    await deployer.walletClient.sendTransaction({ to: address(accuserKey), value: parseEther('1') })
    const asAccuser = await openStakeContract(
      await connectChain({ embedded: chain }, accuserKey),
      contract.address,
    )
    const burntBefore = await contract.burnt()
    const id = await asAccuser.accuse(
      honest.publicKey,
      address(keys.honest),
      encodeEnvelope(evidence),
      parseEther('0.1'),
    )
    const deadline = Date.now() + 20_000
    while ((await contract.accusation(id)).status === 'open') {
      if (Date.now() > deadline) throw new Error('no verdict within 20 s')
      await new Promise((r) => setTimeout(r, 100))
    }
    expect(await contract.accusation(id)).toMatchObject({
      status: 'rejected',
      innocentVotes: 2,
      guiltyVotes: 0,
    })
    expect((await contract.burnt()) - burntBefore).toBe(parseEther('0.1'))
    expect((await contract.stakeOf(honest.publicKey, address(keys.honest))).amount).toBe(parseEther('5'))
    expect(await contract.owed(address(accuserKey))).toBe(0n)
  })
})
