import {
  type Account,
  type Address,
  type Chain,
  createPublicClient,
  createWalletClient,
  custom,
  defineChain,
  type Hex,
  http,
  type PublicClient,
  type Transport,
  type WalletClient,
} from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import type { EmbeddedChain } from './embedded-chain.js'
import { ChainUnreachableError } from './errors.js'

/** Where the chain is: an embedded one (this process) or a JSON-RPC URL. */
export type ChainEndpoint = { embedded: EmbeddedChain } | { rpcUrl: string }

/** A chain account ready to read and send transactions (viem clients). */
export interface ChainConnection {
  /** `embedded` or the RPC URL. */
  readonly endpoint: string
  readonly chain: Chain
  readonly publicClient: PublicClient<Transport, Chain>
  readonly walletClient: WalletClient<Transport, Chain, Account>
  /** The account's address. */
  readonly address: Address
  /** How often a receipt is polled for, in ms (1 on the embedded chain, which mines at once). */
  readonly pollingIntervalMs: number
}

/**
 * Connects `privateKey`'s account to a chain. An RPC URL is asked its chain id first, so an endpoint
 * that does not answer fails here, not at the first transaction.
 *
 * @throws {ChainUnreachableError} the endpoint did not answer
 * @example
 * const connection = await connectChain({ rpcUrl: 'http://127.0.0.1:8545' }, key)
 */
export async function connectChain(
  endpoint: ChainEndpoint,
  privateKey: Hex,
  options: { timeoutMs?: number } = {},
): Promise<ChainConnection> {
  const name = 'embedded' in endpoint ? 'embedded' : endpoint.rpcUrl
  const transport =
    'embedded' in endpoint
      ? // In-process: an error is an answer, not a network hiccup to retry.
        custom({ request: endpoint.embedded.request }, { retryCount: 0 })
      : http(endpoint.rpcUrl, { timeout: options.timeoutMs ?? 10_000, retryCount: 1 })
  let chainId: number
  try {
    chainId = await createPublicClient({ transport }).getChainId()
  } catch (cause) {
    throw new ChainUnreachableError(name, { cause })
  }
  const chain = defineChain({
    id: chainId,
    name: name === 'embedded' ? 'Infraxa embedded chain' : `chain ${chainId}`,
    nativeCurrency: { name: 'Ether', symbol: 'ETH', decimals: 18 },
    rpcUrls: { default: { http: 'rpcUrl' in endpoint ? [endpoint.rpcUrl] : [] } },
  })
  const account = privateKeyToAccount(privateKey)
  const pollingIntervalMs = name === 'embedded' ? 1 : 250
  return {
    endpoint: name,
    chain,
    publicClient: createPublicClient({ chain, transport, pollingInterval: pollingIntervalMs }),
    walletClient: createWalletClient({ account, chain, transport, pollingInterval: pollingIntervalMs }),
    address: account.address,
    pollingIntervalMs,
  }
}
