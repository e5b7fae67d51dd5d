import { type Address, type Hex, parseEther } from 'viem'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { beforeAll, describe, expect, it } from 'vitest'
import {
  type ChannelsContract,
  ContractRevertedError,
  connectChain,
  createEmbeddedChain,
  deployChannelsContract,
  type EmbeddedChain,
  openChannelsContract,
} from '../src/index.js'

const payerKey = generatePrivateKey()
const payeeKey = generatePrivateKey()
const strangerKey = generatePrivateKey()
const addressOf = (k: Hex): Address => privateKeyToAccount(k).address
let chain: EmbeddedChain
let asPayer: ChannelsContract
let asPayee: ChannelsContract
let asStranger: ChannelsContract

async function refused(promise: Promise<unknown>): Promise<string> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(error).toBeInstanceOf(ContractRevertedError)
  return (error as ContractRevertedError).reason
}
const balance = async (k: Hex): Promise<bigint> =>
  BigInt(
    (await chain.request({ method: 'eth_getBalance', params: [addressOf(k), 'latest'] } as never)) as string,
  )
async function passTime(seconds: number): Promise<void> {
  await chain.request({ method: 'evm_increaseTime', params: [seconds] } as never)
  await chain.request({ method: 'evm_mine', params: [] } as never)
}

beforeAll(async () => {
  chain = await createEmbeddedChain({
    accounts: [payerKey, payeeKey, strangerKey].map((k) => ({
      address: addressOf(k),
      balance: parseEther('100'),
    })),
  })
  const deployed = await deployChannelsContract(await connectChain({ embedded: chain }, payerKey))
  asPayer = deployed
  asPayee = await openChannelsContract(await connectChain({ embedded: chain }, payeeKey), deployed.address)
  asStranger = await openChannelsContract(
    await connectChain({ embedded: chain }, strangerKey),
    deployed.address,
  )
})

describe('pay-per-token channels', () => {
  it('pays N verified answers with one close: the payee gets the last voucher, the payer the rest', async () => {
    const id = await asPayer.open(addressOf(payeeKey), parseEther('1'), 3_600)
    expect(await asPayee.channel(id)).toMatchObject({
      payer: addressOf(payerKey),
      payee: addressOf(payeeKey),
      deposit: parseEther('1'),
      closed: false,
    })
    // 10 answers of 120 tokens at 0.0001 ETH per 1k tokens: cumulative vouchers.
    const pricePer1k = parseEther('0.0001')
    let total = 0n
    let latest = await asPayer.signVoucher(id, 0n)
    for (let answer = 0; answer < 10; answer++) {
      total += (pricePer1k * 120n) / 1000n
      latest = await asPayer.signVoucher(id, total)
      expect(await asPayee.verifyVoucher(latest, addressOf(payerKey))).toBe(true)
    }
    const before = await balance(payeeKey)
    await asPayee.close(latest)
    const gained = (await balance(payeeKey)) - before
    expect(gained).toBeLessThan(total)
    expect(gained).toBeGreaterThan(total - parseEther('0.001'))
    expect(await asPayee.owed(addressOf(payerKey))).toBe(parseEther('1') - total)
    await asPayer.claim()
    expect(await refused(asPayee.close(latest))).toBe('ChannelClosed')
  })

  it('refuses a forged voucher, an altered amount, a stranger closing, more than the deposit, and a late close', async () => {
    const id = await asPayer.open(addressOf(payeeKey), parseEther('0.5'), 600)
    const honest = await asPayer.signVoucher(id, parseEther('0.1'))
    // Forged: the payee signs a voucher for itself.
    const forged = await asPayee.signVoucher(id, parseEther('0.5'))
    expect(await asPayee.verifyVoucher(forged, addressOf(payerKey))).toBe(false)
    expect(await refused(asPayee.close(forged))).toBe('InvalidVoucher')
    // Altered: the payer's signature, another amount.
    const altered = { ...honest, amount: parseEther('0.4') }
    expect(await asPayee.verifyVoucher(altered, addressOf(payerKey))).toBe(false)
    expect(await refused(asPayee.close(altered))).toBe('InvalidVoucher')
    // Malformed signature bytes.
    expect(await refused(asPayee.close({ ...honest, signature: '0x1234' }))).toBe('InvalidVoucher')
    expect(await asPayee.verifyVoucher({ ...honest, signature: '0x1234' }, addressOf(payerKey))).toBe(false)
    expect(await refused(asStranger.close(honest))).toBe('NotPayee')
    expect(await refused(asPayee.close(await asPayer.signVoucher(id, parseEther('0.6'))))).toBe(
      'AmountAboveDeposit',
    )
    // A voucher of another channel does not open this one.
    const other = await asPayer.open(addressOf(payeeKey), parseEther('0.5'), 600)
    expect(await refused(asPayee.close({ ...(await asPayer.signVoucher(other, 1n)), channel: id }))).toBe(
      'InvalidVoucher',
    )
    expect(await refused(asPayer.reclaim(id))).toBe('NotExpired')
    await passTime(601)
    expect(await refused(asPayee.close(honest))).toBe('ChannelExpired')
    await asPayer.reclaim(id)
    expect(await refused(asPayer.reclaim(id))).toBe('ChannelClosed')
  })

  it('refuses opening to oneself, to nobody, or with nothing', async () => {
    expect(await refused(asPayer.open(addressOf(payerKey), 1n, 60))).toBe('InvalidParameters')
    expect(await refused(asPayer.open('0x0000000000000000000000000000000000000000', 1n, 60))).toBe(
      'InvalidParameters',
    )
    expect(await refused(asPayer.open(addressOf(payeeKey), 0n, 60))).toBe('InvalidParameters')
  })
})
