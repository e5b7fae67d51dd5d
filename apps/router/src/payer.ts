import type { DatabaseSync } from 'node:sqlite'
import type { ChannelsContract } from '@infraxa/chain'
import type { InfraxaNode } from '@infraxa/p2p'
import {
  create,
  decodeMessage,
  encodeEnvelope,
  PaymentVoucherSchema,
  PROTOCOL_IDS,
  signEnvelope,
} from '@infraxa/protocol'
import { type Address, bytesToHex, type Hex, hexToBytes } from 'viem'
import type { KnownProvider } from './provider-table.js'

/** How a router pays providers (see {@link RouterOptions.payments}). */
export interface RouterPaymentOptions {
  /** The channels contract's address (on the router's `chain`). */
  contract: Address
  /** Deposit of each channel the router opens, in wei; a new one opens when it runs out. @default 0.1 ETH */
  deposit?: bigint
  /** How long a channel stays open for the provider to close, in seconds. @default 7 days */
  durationSeconds?: number
}

/** One provider's channel as the router tracks it. */
interface OpenChannel {
  channel: Hex
  deposit: bigint
  /** Cumulative wei signed so far. */
  paid: bigint
}

/**
 * The router's side of pay-per-token: after each answer it verified, the provider is owed its price per
 * 1,000 tokens (from its signed record) times the answer's tokens; the router signs a cumulative voucher
 * on its channel to the provider (opening one with `deposit` when there is none or it would run out)
 * and sends it on `/infraxa/payment/1.0.0`. A failed or pending answer is never paid. Amounts are kept
 * in the router's database, so a restart never signs less than before (a provider keeps the largest).
 */
export class Payer {
  readonly #db: DatabaseSync
  readonly #channels: ChannelsContract
  readonly #node: InfraxaNode
  readonly #deposit: bigint
  readonly #duration: number
  /** Per provider, the payments in order (cumulative amounts must grow one by one). */
  readonly #queues = new Map<string, Promise<unknown>>()

  constructor(
    db: DatabaseSync,
    channels: ChannelsContract,
    node: InfraxaNode,
    options: RouterPaymentOptions,
  ) {
    this.#db = db
    this.#channels = channels
    this.#node = node
    this.#deposit = options.deposit ?? 10n ** 17n
    this.#duration = options.durationSeconds ?? 7 * 24 * 3600
    db.exec(`
      CREATE TABLE IF NOT EXISTS payment_channels (
        provider TEXT PRIMARY KEY, channel TEXT NOT NULL, deposit TEXT NOT NULL, paid TEXT NOT NULL
      );
      CREATE TABLE IF NOT EXISTS payments (job_id TEXT PRIMARY KEY, provider TEXT NOT NULL, amount TEXT NOT NULL)
    `)
  }

  /** What the router has signed to `provider` in total, on its current channel. */
  paidTo(provider: string): bigint {
    return this.#channel(provider)?.paid ?? 0n
  }

  /**
   * Pays a verified answer of `tokens` tokens (prompt + output) once per job; resolves when the provider
   * acknowledged the voucher. Free providers and providers with no chain account are not paid.
   */
  async pay(provider: KnownProvider, jobId: string, tokens: number): Promise<bigint> {
    const price = provider.capability.pricePer1kTokens
    const payee = provider.capability.stakeOwner
    if (price === 0n || payee.length !== 20 || tokens <= 0) return 0n
    const run = (this.#queues.get(provider.peerId) ?? Promise.resolve()).then(() =>
      this.#pay(provider.peerId, bytesToHex(payee), jobId, (price * BigInt(tokens) + 999n) / 1000n),
    )
    this.#queues.set(
      provider.peerId,
      run.catch(() => {}),
    )
    return run
  }

  async #pay(provider: string, payee: Address, jobId: string, cost: bigint): Promise<bigint> {
    if (this.#db.prepare('SELECT 1 FROM payments WHERE job_id = ?').get(jobId) !== undefined) return 0n
    let open = this.#channel(provider)
    if (open === undefined || open.paid + cost > open.deposit) {
      const deposit = cost > this.#deposit ? cost * 2n : this.#deposit
      open = { channel: await this.#channels.open(payee, deposit, this.#duration), deposit, paid: 0n }
    }
    const paid = open.paid + cost
    const voucher = await this.#channels.signVoucher(open.channel, paid)
    this.#db
      .prepare(
        `INSERT INTO payment_channels (provider, channel, deposit, paid) VALUES (?, ?, ?, ?)
         ON CONFLICT (provider) DO UPDATE SET channel = excluded.channel, deposit = excluded.deposit, paid = excluded.paid`,
      )
      .run(provider, open.channel, open.deposit.toString(), paid.toString())
    this.#db
      .prepare('INSERT INTO payments (job_id, provider, amount) VALUES (?, ?, ?)')
      .run(jobId, provider, cost.toString())
    const envelope = signEnvelope(
      'PAYMENT_VOUCHER',
      create(PaymentVoucherSchema, {
        contract: this.#channels.address,
        channel: hexToBytes(open.channel),
        amount: paid.toString(),
        signature: hexToBytes(voucher.signature),
        jobIds: [hexToBytes(`0x${jobId}`)],
      }),
      this.#node.signer,
    )
    const ack = decodeMessage(
      'PAYMENT_ACK',
      await this.#node.request(provider, PROTOCOL_IDS.payment, encodeEnvelope(envelope)),
    )
    return BigInt(ack.amount)
  }

  #channel(provider: string): OpenChannel | undefined {
    const row = this.#db
      .prepare('SELECT channel, deposit, paid FROM payment_channels WHERE provider = ?')
      .get(provider) as { channel: Hex; deposit: string; paid: string } | undefined
    return row === undefined
      ? undefined
      : { channel: row.channel, deposit: BigInt(row.deposit), paid: BigInt(row.paid) }
  }

  /** Resolves when every payment started so far has been sent (or failed). */
  async idle(): Promise<void> {
    await Promise.allSettled([...this.#queues.values()])
  }
}
