import { rmSync } from 'node:fs'
import { join } from 'node:path'
import { connectChain, createEmbeddedChain, deployStakeContract, type StakeContract } from '@infraxa/chain'
import { runModeCompliance } from '@infraxa/proofs/compliance'
import {
  ConsensusEvidenceSchema,
  create,
  decodeEnvelope,
  decodeMessage,
  encodeMessage,
  openEnvelope,
} from '@infraxa/protocol'
import { createProvider, type Provider } from '@infraxa/provider'
import { parseEther } from 'viem'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { consensusMode } from '../src/consensus-mode.js'
import { createRouter, type Router } from '../src/index.js'
import { randomTokenForgery } from './support/forgeries.js'
import { chat, storiesPath, tempDir } from './support/index.js'

/**
 * The `consensus` mode (2 of 3), on the embedded chain: one request to three staked providers with the
 * same seed, no audits (the router's audit rate 0, no probation: agreement is the check). A cheater among
 * three (TEST DOUBLE: it commits another top-k token than the sampler's at every step) disagrees; the two
 * honest answers agree and are returned; the cheater is re-executed where it departs, a step proves the
 * fraud: banned, and its stake slashed by the router (the contract's adjudicator). Then the mode through
 * the compliance suite, on the signed exchanges of that job.
 */
const dir = tempDir('consensus')
const stopped: Array<{ stop(): Promise<void> }> = []
let honest: Provider[]
let cheater: Provider
let router: Router
let stake: StakeContract
const routerKey = generatePrivateKey()
const keys = [generatePrivateKey(), generatePrivateKey(), generatePrivateKey()] as const

beforeAll(async () => {
  const chain = await createEmbeddedChain({
    accounts: [routerKey, ...keys].map((k) => ({
      address: privateKeyToAccount(k).address,
      balance: parseEther('10'),
    })),
  })
  const routerChain = await connectChain({ embedded: chain }, routerKey)
  stake = await deployStakeContract(routerChain, { adjudicators: [routerChain.address], quorum: 1 })
  let next = 0
  const provider = (name: string, dishonest?: Parameters<typeof createProvider>[0]['dishonest']) =>
    createProvider({
      models: [{ path: storiesPath(), name: 'stories260K' }],
      dataDir: join(dir, name),
      threads: 1,
      stake: parseEther('1'),
      chain: { endpoint: { embedded: chain }, contract: stake.address, privateKey: keys[next++]! },
      ...(dishonest && { dishonest }),
    })
  honest = [await provider('a'), await provider('b')]
  cheater = await provider('cheater', { forgeStep: randomTokenForgery({ fraction: 1 }) })
  stopped.push(...honest, cheater)
  router = await createRouter({
    dataDir: join(dir, 'router'),
    http: '127.0.0.1:0',
    bootstrap: [...honest, cheater].flatMap((p) => p.node.multiaddrs.map(String)),
    verifyModels: [{ path: storiesPath() }],
    threads: 1,
    probationJobs: 0,
    auditRate: 0,
    consensus: { n: 3, k: 2 },
    chain: { endpoint: { embedded: chain }, contract: stake.address, privateKey: routerKey },
  })
  stopped.push(router)
})
afterAll(async () => {
  for (const s of stopped.reverse()) await s.stop().catch(() => {})
  rmSync(dir, { recursive: true, force: true })
})

describe('consensus mode, 2 of 3', () => {
  let receiptId = ''

  it('answers with the two agreeing providers; the cheater among three is caught and banned', async () => {
    await router.refresh(2_000)
    const { status, json } = await chat(router.url!, {
      model: 'stories260K',
      messages: [{ role: 'user', content: 'Once upon a time' }],
      max_tokens: 16,
      temperature: 0.8,
      seed: 7,
      verification: 'consensus',
    })
    expect(status).toBe(200)
    expect(json.infraxa).toMatchObject({ verification: 'consensus', verdict: 'verified' })
    expect(json.infraxa.reason).toMatch(/2 of 3 providers committed to this answer/)
    expect(honest.map((p) => p.peerId)).toContain(json.infraxa.provider)
    receiptId = json.infraxa.receipt_id
    const receipt = (await (await fetch(`${router.url}/v1/receipts/${receiptId}`)).json()) as any
    expect(receipt).toMatchObject({ verification: 'consensus', verdict: 'verified' })
    // Without audits the cheater's own job passed; the disagreement is what re-executes it.
    const deadline = Date.now() + 20_000
    while (!router.reputation.get(cheater.peerId).banned) {
      if (Date.now() > deadline) throw new Error('the dissenting cheater was not banned within 20 s')
      await new Promise((r) => setTimeout(r, 100))
    }
    expect(router.reputation.events(cheater.peerId).at(-1)?.reason).toMatch(/disagreed with the consensus/)
    for (const p of honest) expect(router.reputation.get(p.peerId).banned).toBe(false)
    await router.stake!.idle()
    expect((await stake.stakeOf(cheater.publicKey, cheater.stake!.owner)).amount).toBe(0n)
    for (const p of honest)
      expect((await stake.stakeOf(p.publicKey, p.stake!.owner)).amount).toBe(parseEther('1'))
  })

  it('with the cheater banned, two honest providers still reach 2 of 2; none is penalised', async () => {
    const { status, json } = await chat(router.url!, {
      model: 'stories260K',
      messages: [{ role: 'user', content: 'The cat' }],
      max_tokens: 12,
      temperature: 0.8,
      seed: 11,
      verification: 'consensus',
    })
    expect(status).toBe(200)
    expect(json.infraxa.reason).toMatch(/2 of 2 providers/)
    for (const p of honest) expect(router.reputation.get(p.peerId).banned).toBe(false)
  })

  it('the mode passes the compliance suite on the real exchanges; a lone or duplicated voice is not a consensus', async () => {
    const view = router.api.receipt(receiptId) as any
    const sealed = openEnvelope(
      'RECEIPT',
      decodeEnvelope(Buffer.from(view.envelopes.receipt, 'base64')),
    ).message
    const evidence = decodeMessage('CONSENSUS_EVIDENCE', sealed.modeProof)
    const request = sealed.request!
    const response = sealed.response!
    const pairs = evidence.requests.map((r, i) => ({ request: r, response: evidence.responses[i]! }))
    const tokensOf = (r: typeof response) =>
      openEnvelope('INFERENCE_RESPONSE', r).message.outputTokens.join(',')
    const agreeing = pairs.filter((p) => tokensOf(p.response) === tokensOf(response))
    const dissenting = pairs.filter((p) => tokensOf(p.response) !== tokensOf(response))
    expect(agreeing).toHaveLength(1)
    expect(dissenting).toHaveLength(1)
    const encode = (list: typeof pairs) =>
      encodeMessage(
        'CONSENSUS_EVIDENCE',
        create(ConsensusEvidenceSchema, {
          requests: list.map((p) => p.request),
          responses: list.map((p) => p.response),
        }),
      )
    const mode = consensusMode({ k: 2 })
    const report = await runModeCompliance({
      mode,
      honestCases: [
        { name: 'two of three agree', input: { request, response, modeProof: encode(pairs) }, context: {} },
      ],
      attackCases: [
        {
          name: 'only the dissenter beside the answer',
          input: { request, response, modeProof: encode(dissenting) },
          context: {},
        },
        {
          name: 'the answer itself presented as a second voice',
          input: { request, response, modeProof: encode([{ request, response }]) },
          context: {},
        },
        {
          name: "the cheater's answer, with the two honest ones as evidence",
          input: { ...dissenting[0]!, modeProof: encode([{ request, response }, ...agreeing]) },
          context: {},
        },
        {
          name: 'evidence that does not decode',
          input: { request, response, modeProof: new Uint8Array([1, 2, 3]) },
          context: {},
        },
        {
          name: 'an agreeing exchange whose response signature is flipped',
          input: {
            request,
            response,
            modeProof: encode([
              {
                request: agreeing[0]!.request,
                response: {
                  ...agreeing[0]!.response,
                  signature: agreeing[0]!.response.signature.map((b, i, a) =>
                    i === a.length - 1 ? b ^ 1 : b,
                  ),
                },
              },
            ]),
          },
          context: {},
        },
      ],
    })
    expect(report.failures).toEqual([])
  })
})
