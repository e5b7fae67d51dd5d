import { type Address, getContract, type Hash, type Hex, isHex, parseEventLogs, verifyTypedData } from 'viem'
import type { ChainConnection } from './connect.js'
import { ContractRevertedError, NoContractError } from './errors.js'
import { infraxaChannelsAbi, infraxaChannelsBytecode } from './generated/infraxa-channels.js'
import { deploy, transact } from './transact.js'

/** One payment channel as the contract holds it. */
export interface PaymentChannel {
  id: Hex
  payer: Address
  payee: Address
  deposit: bigint
  /** When the payer may reclaim an unclosed channel (seconds since epoch). */
  expiresAt: number
  closed: boolean
}

/** A payer's signed promise: `amount` wei in total on `channel`, so far. */
export interface Voucher {
  channel: Hex
  amount: bigint
  /** EIP-712 signature by the payer's chain key (65 bytes, hex). */
  signature: Hex
}

const VOUCHER_TYPES = {
  Voucher: [
    { name: 'channel', type: 'bytes32' },
    { name: 'amount', type: 'uint256' },
  ],
} as const

/** Deploys the channels contract (no parameters). */
export async function deployChannelsContract(connection: ChainConnection): Promise<ChannelsContract> {
  const address = await deploy(connection, {
    abi: infraxaChannelsAbi,
    bytecode: infraxaChannelsBytecode,
    args: [],
  })
  if (address === undefined) throw new NoContractError('channels', '(deployment returned no address)')
  return new ChannelsContract(connection, address)
}

/**
 * Opens the channels contract at `address`.
 *
 * @throws {NoContractError} no channels contract there
 */
export async function openChannelsContract(
  connection: ChainConnection,
  address: Address,
): Promise<ChannelsContract> {
  const contract = new ChannelsContract(connection, address)
  try {
    await contract.domainSeparator()
  } catch {
    throw new NoContractError('channels', address)
  }
  return contract
}

/**
 * Pay-per-token channels through one account: a payer opens a channel to a payee with a deposit and signs
 * cumulative vouchers off chain; the payee checks each voucher ({@link verifyVoucher}, no chain call)
 * and closes with the latest one. Refusals are {@link ContractRevertedError}s (`InvalidVoucher`,
 * `AmountAboveDeposit`, `ChannelExpired`, `NotPayee`, …).
 */
export class ChannelsContract {
  readonly address: Address
  readonly #connection: ChainConnection
  readonly #contract

  constructor(connection: ChainConnection, address: Address) {
    this.address = address
    this.#connection = connection
    this.#contract = getContract({
      address,
      abi: infraxaChannelsAbi,
      client: { public: connection.publicClient, wallet: connection.walletClient },
    })
  }

  /** The account this handle sends and signs from. */
  get account(): Address {
    return this.#connection.address
  }

  async domainSeparator(): Promise<Hex> {
    return this.#contract.read.domainSeparator()
  }

  /** Opens a channel to `payee` holding `deposit`, reclaimable after `durationSeconds`; returns its id. */
  async open(payee: Address, deposit: bigint, durationSeconds: number): Promise<Hex> {
    const hash = await this.#send('open', [payee, BigInt(durationSeconds)], deposit)
    const receipt = await this.#connection.publicClient.getTransactionReceipt({ hash })
    const [event] = parseEventLogs({ abi: infraxaChannelsAbi, eventName: 'Opened', logs: receipt.logs })
    if (event === undefined) throw new ContractRevertedError('no Opened event', [])
    return event.args.id
  }

  async topUp(id: Hex, amount: bigint): Promise<Hash> {
    return this.#send('topUp', [id], amount)
  }

  async channel(id: Hex): Promise<PaymentChannel> {
    const c = await this.#contract.read.channel([id])
    return {
      id,
      payer: c.payer,
      payee: c.payee,
      deposit: c.deposit,
      expiresAt: Number(c.expiresAt),
      closed: c.closed,
    }
  }

  /** This account's voucher for `amount` in total on channel `id` (signed, nothing sent). */
  async signVoucher(id: Hex, amount: bigint): Promise<Voucher> {
    const signature = await this.#connection.walletClient.signTypedData({
      domain: this.#domain(),
      types: VOUCHER_TYPES,
      primaryType: 'Voucher',
      message: { channel: id, amount },
    })
    return { channel: id, amount, signature }
  }

  /** Whether `voucher` is signed by `payer` for this contract and chain (checked locally, no chain call). */
  async verifyVoucher(voucher: Voucher, payer: Address): Promise<boolean> {
    if (!isHex(voucher.signature) || !isHex(voucher.channel) || voucher.amount < 0n) return false
    try {
      return await verifyTypedData({
        address: payer,
        domain: this.#domain(),
        types: VOUCHER_TYPES,
        primaryType: 'Voucher',
        message: { channel: voucher.channel, amount: voucher.amount },
        signature: voucher.signature,
      })
    } catch {
      return false
    }
  }

  /** The payee redeems `voucher`: its amount paid, the rest owed back to the payer. */
  async close(voucher: Voucher): Promise<Hash> {
    return this.#send('close', [voucher.channel, voucher.amount, voucher.signature])
  }

  /** The payer takes back an expired channel's deposit. */
  async reclaim(id: Hex): Promise<Hash> {
    return this.#send('reclaim', [id])
  }

  /** Pays this account its refunds from closed channels. */
  async claim(): Promise<Hash> {
    return this.#send('claim', [])
  }

  async owed(address: Address): Promise<bigint> {
    return this.#contract.read.owed([address])
  }

  #domain() {
    return {
      name: 'InfraxaChannels',
      version: '1',
      chainId: this.#connection.chain.id,
      verifyingContract: this.address,
    } as const
  }

  async #send(
    name: 'open' | 'topUp' | 'close' | 'reclaim' | 'claim',
    args: readonly unknown[],
    value?: bigint,
  ): Promise<Hash> {
    return transact(this.#connection, {
      address: this.address,
      abi: infraxaChannelsAbi,
      functionName: name,
      args,
      ...(value !== undefined && { value }),
    })
  }
}
