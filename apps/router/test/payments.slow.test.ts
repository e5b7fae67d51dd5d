import { rmSync } from 'node:fs'
import { join } from 'node:path'
import {
  ChannelsContract,
  connectChain,
  createEmbeddedChain,
  deployChannelsContract,
  deployStakeContract,
  type EmbeddedChain,
} from '@infraxa/chain'
import { createNode } from '@infraxa/p2p'
import {
  create,
  encodeEnvelope,
  PaymentVoucherSchema,
  PROTOCOL_IDS,
  RemoteError,
  signEnvelope,
} from '@infraxa/protocol'
import { createProvider, type Provider } from '@infraxa/provider'
import { formatEther, type Hex, hexToBytes, parseEther } from 'viem'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createRouter, type Router } from '../src/index.js'
import { randomTokenForgery } from './support/forgeries.js'
import { chat, storiesPath, tempDir } from './support/index.js'

/**
 * Pay-per-token on the embedded chain: a provider prices 1,000 tokens at 0.001 ETH; the router opens a
 * channel and signs a cumulative voucher after each answer it verified; the provider checks and keeps
 * the latest and redeems it: paid exactly for the verified answers' tokens. A cheater's failed answers are
 * never paid; a forged voucher is refused.
 */
const dir = tempDir('payments')
const keys = { deployer: generatePrivateKey(), router: generatePrivateKey(), honest: generatePrivateKey() }
const cheaterKey = generatePrivateKey()
const address = (k: Hex) => privateKeyToAccount(k).address
const PRICE = parseEther('0.001')
const stopped: Array<{ stop(): Promise<void> }> = []
let chain: EmbeddedChain
let channels: ChannelsContract
let stakeAddress: Hex
let honest: Provider
let cheater: Provider
let router: Router

beforeAll(async () => {
  chain = await createEmbeddedChain({
    accounts: [...Object.values(keys), cheaterKey].map((k) => ({
      address: address(k),
      balance: parseEther('10'),
    })),
  })
  const deployer = await connectChain({ embedded: chain }, keys.deployer)
  channels = await deployChannelsContract(deployer)
  stakeAddress = (await deployStakeContract(deployer, { adjudicators: [address(keys.router)] })).address
  const provider = (name: string, key: Hex, dishonest?: Parameters<typeof createProvider>[0]['dishonest']) =>
    createProvider({
      models: [{ path: storiesPath(), name: 'stories260K' }],
      dataDir: join(dir, name),
      threads: 1,
      stake: parseEther('1'),
      chain: { endpoint: { embedded: chain }, contract: stakeAddress, privateKey: key },
      payments: { contract: channels.address, pricePer1kTokens: PRICE },
      ...(dishonest && { dishonest }),
    })
  honest = await provider('honest', keys.honest)
  stopped.push(honest)
  cheater = await provider('cheater', cheaterKey, { forgeStep: randomTokenForgery({ fraction: 1 }) })
  stopped.push(cheater)
  router = await createRouter({
    dataDir: join(dir, 'router'),
    http: '127.0.0.1:0',
    bootstrap: [...honest.node.multiaddrs, ...cheater.node.multiaddrs].map(String),
    verifyModels: [{ path: storiesPath() }],
    threads: 1,
    probationJobs: 0,
    chain: { endpoint: { embedded: chain }, contract: stakeAddress, privateKey: keys.router },
    payments: { contract: channels.address, deposit: parseEther('0.5') },
  })
  stopped.push(router)
})
afterAll(async () => {
  for (const s of stopped.reverse()) await s.stop().catch(() => {})
  rmSync(dir, { recursive: true, force: true })
})

const balance = async (k: Hex) =>
  BigInt(
    (await chain.request({ method: 'eth_getBalance', params: [address(k), 'latest'] } as never)) as string,
  )

describe('pay-per-token channels, end to end', () => {
  it('pays exactly the verified answers; a failed one is never paid', async () => {
    let owed = 0n
    let verified = 0
    let failed = 0
    for (let i = 0; i < 12 && (verified < 5 || failed < 1); i++) {
      const { status, json } = await chat(router.url!, {
        model: 'stories260K',
        messages: [{ role: 'user', content: `Once upon a time ${i}` }],
        max_tokens: 16,
      })
      expect(status).toBe(200)
      // The cheater's job failed (banned, the client answered by the honest one on the retry).
      if (json.infraxa.attempts > 1) failed++
      expect(json.infraxa.provider).toBe(honest.peerId)
      const tokens = json.usage.prompt_tokens + json.usage.completion_tokens
      owed += (PRICE * BigInt(tokens) + 999n) / 1000n
      verified++
    }
    expect(failed).toBe(1)
    await router.payer!.idle()
    expect(router.payer!.paidTo(honest.peerId)).toBe(owed)
    expect(router.payer!.paidTo(cheater.peerId)).toBe(0n)
    expect(honest.heldPayments().map((h) => h.amount)).toEqual([owed])
    expect(cheater.heldPayments()).toEqual([])
    const before = await balance(keys.honest)
    const redeemed = await honest.redeemPayments()
    expect(redeemed).toEqual([{ channel: expect.any(String), amount: owed }])
    const gained = (await balance(keys.honest)) - before
    console.log(
      `[payments] ${verified} verified answers paid ${formatEther(owed)} ETH in one close (provider +${formatEther(gained)} net of gas); the cheater's failed job: 0`,
    )
    expect(gained).toBeGreaterThan(owed - parseEther('0.001'))
    // The router's change from the 0.5 ETH deposit is claimable.
    const routerChannels = new ChannelsContract(
      await connectChain({ embedded: chain }, keys.router),
      channels.address,
    )
    expect(await routerChannels.owed(address(keys.router))).toBe(parseEther('0.5') - owed)
  })

  it('refuses a forged voucher (typed error), and one for another payee', async () => {
    const forger = await createNode({ dataDir: join(dir, 'forger') })
    stopped.push(forger)
    const forgerChain = await connectChain({ embedded: chain }, cheaterKey)
    const asForger = new ChannelsContract(forgerChain, channels.address)
    // A channel from the cheater's account to the honest provider, then a voucher signed by another key.
    const id = await asForger.open(address(keys.honest), parseEther('0.1'), 3_600)
    const otherKey = generatePrivateKey()
    const wrongSigner = new ChannelsContract(
      await connectChain({ embedded: chain }, otherKey),
      channels.address,
    )
    const forged = await wrongSigner.signVoucher(id, parseEther('0.1'))
    const send = (channel: Hex, amount: bigint, signature: Hex) =>
      forger.request(
        honest.peerId,
        PROTOCOL_IDS.payment,
        encodeEnvelope(
          signEnvelope(
            'PAYMENT_VOUCHER',
            create(PaymentVoucherSchema, {
              contract: channels.address,
              channel: hexToBytes(channel),
              amount: amount.toString(),
              signature: hexToBytes(signature),
            }),
            forger.signer,
          ),
        ),
      )
    await forger.connect(honest.node.multiaddrs[0]!)
    const refusal = await send(id, forged.amount, forged.signature).then(
      () => undefined,
      (e: unknown) => e,
    )
    expect(refusal).toBeInstanceOf(RemoteError)
    expect((refusal as RemoteError).code).toBe('ERR_INVALID_VOUCHER')
    expect((refusal as RemoteError).message).toMatch(/not signed by the channel's payer/)
    // Above the deposit, and a channel that does not exist.
    const tooMuch = await asForger.signVoucher(id, parseEther('0.2'))
    await expect(send(id, tooMuch.amount, tooMuch.signature)).rejects.toThrow(/above the deposit/)
    const unknown = `0x${'ab'.repeat(32)}` as Hex
    await expect(send(unknown, 1n, tooMuch.signature)).rejects.toThrow(/no such channel/)
    // A voucher on a channel to another payee (the cheater's account as payee) is not this provider's.
    const elsewhere = await asForger.open(address(keys.router), parseEther('0.1'), 3_600)
    const v = await asForger.signVoucher(elsewhere, 1n)
    await expect(send(elsewhere, v.amount, v.signature)).rejects.toThrow(/not the payee/)
    // A good one is accepted and held beside the router's.
    const good = await asForger.signVoucher(id, parseEther('0.05'))
    await send(id, good.amount, good.signature)
    expect(honest.heldPayments().find((h) => h.channel === id)?.amount).toBe(parseEther('0.05'))
  })
})
