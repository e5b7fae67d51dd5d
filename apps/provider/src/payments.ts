import type { DatabaseSync } from 'node:sqlite'
import { type ChannelsContract, type PaymentChannel, parseAddress } from '@infraxa/chain'
import {
  create,
  encodeMessage,
  InfraxaError,
  openEnvelope,
  PaymentAckSchema,
  type SignedEnvelope,
} from '@infraxa/protocol'
import { type Address, bytesToHex, type Hex, isAddressEqual } from 'viem'
import { InvalidVoucherError } from './errors.js'

/** What a provider charges and where it is paid (see {@link ProviderOptions.payments}). */
export interface ProviderPaymentOptions {
  /** The channels contract's address. */
  contract: Address
  /** Wei per 1,000 tokens (prompt + output) of a verified answer. */
  pricePer1kTokens: bigint
}

/** A channel's latest voucher, as the provider holds it. */
export interface HeldVoucher {
  channel: Hex
  payer: Address
  amount: bigint
  signature: Hex
}

/**
 * The provider's side of pay-per-token channels: checks every voucher a router sends (its envelope's
 * signature, the channel on chain — this provider's account as payee, still open — the payer's EIP-712
 * signature, the amount within the deposit and never less than the one already held) and keeps the
 * latest per channel in the provider's database, so a restart loses no payment; {@link redeem} closes
 * the channels with them.
 */
export class PaymentInbox {
  readonly #db: DatabaseSync
  readonly #channels: ChannelsContract
  readonly #known = new Map<string, PaymentChannel>()

  constructor(db: DatabaseSync, channels: ChannelsContract) {
    this.#db = db
    this.#channels = channels
    db.exec(`
      CREATE TABLE IF NOT EXISTS vouchers (
        channel TEXT PRIMARY KEY, payer TEXT NOT NULL, amount TEXT NOT NULL, signature TEXT NOT NULL,
        redeemed INTEGER NOT NULL DEFAULT 0, updated_at INTEGER NOT NULL
      )
    `)
  }

  /** The payee: this provider's chain account. */
  get payee(): Address {
    return this.#channels.account
  }

  /**
   * Checks and keeps a PAYMENT_VOUCHER envelope; returns the ack (the amount now held for the channel).
   *
   * @throws {InvalidVoucherError} anything that would not pay
   */
  async accept(envelope: SignedEnvelope): Promise<Uint8Array> {
    let message: ReturnType<typeof openEnvelope<'PAYMENT_VOUCHER'>>['message']
    try {
      message = openEnvelope('PAYMENT_VOUCHER', envelope).message
    } catch (error) {
      if (!(error instanceof InfraxaError)) throw error
      throw new InvalidVoucherError(error.shortMessage)
    }
    let contract: Address
    try {
      contract = parseAddress(message.contract)
    } catch {
      throw new InvalidVoucherError('no contract address')
    }
    if (!isAddressEqual(contract, this.#channels.address))
      throw new InvalidVoucherError('another channels contract')
    if (message.channel.length !== 32) throw new InvalidVoucherError('a channel id is 32 bytes')
    if (message.signature.length !== 65) throw new InvalidVoucherError('a voucher signature is 65 bytes')
    if (!/^\d{1,78}$/.test(message.amount))
      throw new InvalidVoucherError('the amount is not a decimal number of wei')
    const channelId = bytesToHex(message.channel)
    const amount = BigInt(message.amount)
    let channel = await this.#channel(channelId)
    if (amount > channel.deposit) channel = await this.#channel(channelId, true)
    if (!isAddressEqual(channel.payee, this.payee))
      throw new InvalidVoucherError('this provider is not the payee')
    if (channel.closed) throw new InvalidVoucherError('the channel is closed')
    if (amount > channel.deposit)
      throw new InvalidVoucherError(`${amount} wei is above the deposit ${channel.deposit}`)
    const voucher = { channel: channelId, amount, signature: bytesToHex(message.signature) }
    if (!(await this.#channels.verifyVoucher(voucher, channel.payer))) {
      throw new InvalidVoucherError("not signed by the channel's payer")
    }
    const row = this.#db.prepare('SELECT amount FROM vouchers WHERE channel = ?').get(channelId) as
      | { amount: string }
      | undefined
    const held = row === undefined ? undefined : { amount: BigInt(row.amount) }
    if (held === undefined || amount > held.amount) {
      this.#db
        .prepare(
          `INSERT INTO vouchers (channel, payer, amount, signature, updated_at) VALUES (?, ?, ?, ?, ?)
           ON CONFLICT (channel) DO UPDATE SET amount = excluded.amount, signature = excluded.signature,
             updated_at = excluded.updated_at`,
        )
        .run(channelId, channel.payer, amount.toString(), voucher.signature, Date.now())
    }
    const now = held !== undefined && held.amount > amount ? held.amount : amount
    return encodeMessage(
      'PAYMENT_ACK',
      create(PaymentAckSchema, { channel: message.channel, amount: now.toString() }),
    )
  }

  /** The latest voucher of each channel not yet redeemed. */
  held(): HeldVoucher[] {
    const rows = this.#db
      .prepare('SELECT channel, payer, amount, signature FROM vouchers WHERE redeemed = 0')
      .all() as Array<{ channel: Hex; payer: Address; amount: string; signature: Hex }>
    return rows.map((r) => ({
      channel: r.channel,
      payer: r.payer,
      amount: BigInt(r.amount),
      signature: r.signature,
    }))
  }

  /** Closes every channel with its latest voucher; returns what each paid. Failures stay held for a retry. */
  async redeem(): Promise<Array<{ channel: Hex; amount: bigint; error?: string }>> {
    const out: Array<{ channel: Hex; amount: bigint; error?: string }> = []
    for (const held of this.held()) {
      try {
        if (held.amount > 0n) await this.#channels.close(held)
        this.#db.prepare('UPDATE vouchers SET redeemed = 1 WHERE channel = ?').run(held.channel)
        out.push({ channel: held.channel, amount: held.amount })
      } catch (error) {
        out.push({ channel: held.channel, amount: 0n, error: (error as Error).message })
      }
    }
    return out
  }

  /** The channel on chain, cached (its deposit only grows: `fresh` re-reads when a voucher exceeds it). */
  async #channel(id: Hex, fresh = false): Promise<PaymentChannel> {
    const known = this.#known.get(id)
    if (known !== undefined && !fresh) return known
    try {
      const channel = await this.#channels.channel(id)
      this.#known.set(id, channel)
      return channel
    } catch (error) {
      if (!(error instanceof InfraxaError) && !(error instanceof Error)) throw error
      throw new InvalidVoucherError('no such channel on chain')
    }
  }
}
