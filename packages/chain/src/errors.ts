/**
 * Errors of the chain layer. Every one extends {@link InfraxaError} (stable `code`, `shortMessage`,
 * `details` saying what to do).
 */
import { InfraxaError, type InfraxaErrorOptions } from '@infraxa/protocol'

/** The JSON-RPC endpoint did not answer, or answered something that is not JSON-RPC. */
export class ChainUnreachableError extends InfraxaError {
  /** The endpoint, or `embedded`. */
  readonly endpoint: string
  constructor(endpoint: string, options: InfraxaErrorOptions = {}) {
    super('ERR_CHAIN_UNREACHABLE', `chain endpoint ${endpoint} did not answer`, {
      details:
        'Check --chain-rpc (an EVM JSON-RPC URL such as http://127.0.0.1:8545) and that the node runs.',
      ...options,
    })
    this.endpoint = endpoint
  }
}

/**
 * The stake contract refused a call: `reason` is the contract's custom error (`StillBonded`,
 * `BondTooSmall`, `NotAdjudicator`, …) and `args` its arguments.
 */
export class ContractRevertedError extends InfraxaError {
  readonly reason: string
  readonly args: readonly unknown[]
  constructor(reason: string, args: readonly unknown[], options: InfraxaErrorOptions = {}) {
    super(
      'ERR_CONTRACT_REVERTED',
      `the stake contract refused the call: ${reason}${args.length > 0 ? `(${args.map(String).join(', ')})` : ''}`,
      options,
    )
    this.reason = reason
    this.args = args
  }
}

/** The account cannot pay for the call (its value plus gas). */
export class InsufficientFundsError extends InfraxaError {
  readonly address: string
  constructor(address: string, options: InfraxaErrorOptions = {}) {
    super('ERR_INSUFFICIENT_FUNDS', `account ${address} cannot pay for this transaction`, {
      details: 'Fund the chain account (its address is printed at start), or stake less.',
      ...options,
    })
    this.address = address
  }
}

/** No Infraxa contract of the kind asked for at the given address (nothing deployed, or another one). */
export class NoContractError extends InfraxaError {
  readonly address: string
  readonly contract: 'stake' | 'channels'
  constructor(contract: 'stake' | 'channels', address: string) {
    super('ERR_NO_CONTRACT', `no Infraxa ${contract} contract at ${address}`, {
      details: `Pass the address the deployment printed (--${contract}-contract), or deploy one.`,
    })
    this.address = address
    this.contract = contract
  }
}
