import {
  ContractDecoder,
  EdrContext,
  L1_CHAIN_TYPE,
  l1GenesisState,
  l1HardforkLatest,
  l1HardforkToString,
  l1ProviderFactory,
  MineOrdering,
  type Provider,
} from '@nomicfoundation/edr'
import type { Address, EIP1193Parameters, EIP1193RequestFn } from 'viem'
import { hexToBytes } from 'viem'
import { ChainUnreachableError } from './errors.js'

/** Options of {@link createEmbeddedChain}. */
export interface EmbeddedChainOptions {
  /** Accounts funded at genesis. */
  accounts?: ReadonlyArray<{ address: Address; balance: bigint }>
  /** @default 31337 */
  chainId?: number
}

/** An in-process EVM chain: what viem's `custom` transport takes, and its chain id. */
export interface EmbeddedChain {
  readonly chainId: number
  /** EIP-1193 `request`: every `eth_*` method, and `evm_increaseTime` / `evm_mine` to move time. */
  readonly request: EIP1193RequestFn
}

let context: Promise<EdrContext> | undefined

/** EDR allows one context per process; every embedded chain shares it. */
function edrContext(): Promise<EdrContext> {
  context ??= (async () => {
    const created = new EdrContext()
    await created.registerProviderFactory(L1_CHAIN_TYPE, l1ProviderFactory())
    return created
  })()
  return context
}

/**
 * Starts an in-process EVM chain (Hardhat's EDR, the Rust EVM behind Hardhat 3): blocks mined on every
 * transaction, the latest hardfork, nothing on disk. It is what the demo and the tests use when no
 * `--chain-rpc` is given; state lives as long as the process.
 *
 * @example
 * const chain = await createEmbeddedChain({ accounts: [{ address, balance: 10n ** 21n }] })
 * const client = createPublicClient({ transport: custom(chain) })
 */
export async function createEmbeddedChain(options: EmbeddedChainOptions = {}): Promise<EmbeddedChain> {
  const chainId = options.chainId ?? 31337
  const hardfork = l1HardforkLatest()
  const provider: Provider = await (await edrContext()).createProvider(
    L1_CHAIN_TYPE,
    {
      allowBlocksWithSameTimestamp: false,
      allowUnlimitedContractSize: false,
      // A reverted call or transaction is a JSON-RPC error carrying the revert data, as on a real node.
      bailOnCallFailure: true,
      bailOnTransactionFailure: true,
      chainId: BigInt(chainId),
      coinbase: new Uint8Array(20),
      // EIP-7825 caps a transaction at 2^24 gas.
      defaultTransactionGasLimit: 16_000_000n,
      genesisState: [
        ...l1GenesisState(hardfork),
        ...(options.accounts ?? []).map((a) => ({ address: hexToBytes(a.address), balance: a.balance })),
      ],
      hardfork: l1HardforkToString(hardfork),
      minGasPrice: 0n,
      mining: { autoMine: true, memPool: { order: MineOrdering.Priority } },
      network: { genesisBlockGasLimit: 30_000_000n },
      networkId: BigInt(chainId),
      observability: {},
      ownedAccounts: [],
      precompileOverrides: [],
    },
    { enable: false, decodeConsoleLogInputsCallback: () => [], printLineCallback: () => {} },
    { subscriptionCallback: () => {} },
    new ContractDecoder(),
  )
  let id = 0
  const request = (async ({ method, params }: EIP1193Parameters) => {
    let response: { result?: unknown; error?: { code: number; message: string; data?: unknown } }
    try {
      const raw = await provider.handleRequest(
        JSON.stringify({ jsonrpc: '2.0', id: ++id, method, params: params ?? [] }),
      )
      response = typeof raw.data === 'string' ? JSON.parse(raw.data) : raw.data
    } catch (cause) {
      throw new ChainUnreachableError('embedded', { cause })
    }
    if (response.error !== undefined) {
      // A revert is answered as geth and anvil do (code 3, `data` the revert bytes), which viem decodes
      // against the contract's errors; EDR says -32000 with the bytes one level down.
      const revert = (response.error.data as { data?: unknown } | undefined)?.data
      // …and an unfunded sender in geth's words, which viem turns into its InsufficientFundsError.
      const message = /doesn't have enough funds/.test(response.error.message)
        ? `insufficient funds for gas * price + value (${response.error.message})`
        : response.error.message
      throw Object.assign(new Error(message), {
        code: typeof revert === 'string' ? 3 : response.error.code,
        data: typeof revert === 'string' ? revert : response.error.data,
      })
    }
    return response.result
  }) as EIP1193RequestFn
  return { chainId, request }
}
