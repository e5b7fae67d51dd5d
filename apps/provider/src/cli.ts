import { availableParallelism } from 'node:os'
import { parseArgs } from 'node:util'
import { parseAddress, parseAmount } from '@infraxa/chain'
import { defaultThreads } from '@infraxa/engine'
import { InfraxaError, InvalidArgumentError } from '@infraxa/protocol'
import { formatEther } from 'viem'
import type { ProviderPaymentOptions } from './payments.js'
import { createProvider, type ModelSource } from './provider.js'
import type { ProviderChainOptions } from './stake.js'

const HELP = `infraxa-provider — serve LLM inference on the Infraxa network

Usage: infraxa-provider --model <gguf path | hf: uri> [--model …] [options]

Options:
  --model <path|hf:uri>   a model to serve (repeatable)
  --listen <multiaddr>    listen address (default /ip4/127.0.0.1/tcp/0; repeatable)
  --port <n>              shorthand for --listen /ip4/0.0.0.0/tcp/<n>
  --announce <multiaddr>  address to announce instead of the listen ones (repeatable): a public
                          address is announced only once AutoNAT has confirmed it, or when given here
  --bootstrap <multiaddr> bootstrap peer (repeatable; give several against eclipse attacks)
  --data-dir <dir>        node key and transcript store (default ./infraxa-provider)
  --threads <n>           CPU threads per model (default: cores − 1, 1..8; here ${defaultThreads()})
  --parallel <n>          jobs decoded at once per model, batched in one context (default 1;
                          routers verify batched answers with looser noise than solo ones)
  --max-queue <n>         jobs that may wait per model before requests get ERR_BUSY (default 32)
  --gpu <auto|cpu|cuda|vulkan|metal|N>  backend, or GPU index N (CUDA/Vulkan, via *_VISIBLE_DEVICES; default cpu)
  --metrics <[host:]port> serve Prometheus GET /metrics (sequences in use, queue depth, jobs, tokens);
                          host defaults to 127.0.0.1
  --stake <amount>        stake to bond, in wei or with a unit (5eth); with --chain-rpc the slot in the
                          stake contract is topped up to it at start (the chain key is
                          <data-dir>/chain.key), without it the number is only advertised (default 0)
  --chain-rpc <url>       EVM JSON-RPC endpoint holding the stake contract (with --stake-contract)
  --stake-contract <addr> the stake contract's address
  --channels-contract <addr>  take pay-per-token vouchers through this channels contract (with
                          --chain-rpc); redeemed when the provider stops
  --price <amount>        price per 1,000 tokens (prompt + output) of a verified answer, e.g. 0.001eth
  --mdns                  discover peers on the LAN
  --relay                 serve as a circuit relay v2 for peers behind NAT (64 MiB, 10 min per
                          relayed connection); a node behind NAT listens through one with
                          --listen <relay multiaddr>/p2p-circuit
  -h, --help              this help
`

export async function main(argv: string[]): Promise<number> {
  let values: Record<string, string | string[] | boolean | undefined>
  try {
    ;({ values } = parseArgs({
      args: argv,
      options: {
        model: { type: 'string', multiple: true },
        listen: { type: 'string', multiple: true },
        port: { type: 'string' },
        bootstrap: { type: 'string', multiple: true },
        announce: { type: 'string', multiple: true },
        'data-dir': { type: 'string' },
        threads: { type: 'string' },
        parallel: { type: 'string' },
        'max-queue': { type: 'string' },
        gpu: { type: 'string' },
        stake: { type: 'string' },
        'chain-rpc': { type: 'string' },
        'stake-contract': { type: 'string' },
        'channels-contract': { type: 'string' },
        price: { type: 'string' },
        metrics: { type: 'string' },
        mdns: { type: 'boolean' },
        relay: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    }))
  } catch (error) {
    process.stderr.write(`infraxa-provider: ${(error as Error).message}\n\n${HELP}`)
    return 2
  }
  if (values.help) {
    process.stdout.write(HELP)
    return 0
  }
  const models = (values.model as string[] | undefined) ?? []
  if (models.length === 0) {
    process.stderr.write(`infraxa-provider: give at least one --model\n\n${HELP}`)
    return 2
  }
  const threads = Number(values.threads ?? defaultThreads())
  // More threads than cores only make ggml's spinning workers fight for them (1,000 on 2 cores: every
  // job timed out and SIGTERM no longer stopped the process).
  if (!Number.isInteger(threads) || threads < 1 || threads > availableParallelism()) {
    process.stderr.write(
      `infraxa-provider: --threads must be an integer in 1..${availableParallelism()} (the cores here)\n`,
    )
    return 2
  }
  const parallel = Number(values.parallel ?? 1)
  const maxQueue = Number(values['max-queue'] ?? 32)
  if (!Number.isInteger(parallel) || parallel < 1 || parallel > 64) {
    process.stderr.write('infraxa-provider: --parallel must be an integer from 1 to 64\n')
    return 2
  }
  if (!Number.isInteger(maxQueue) || maxQueue < 0) {
    process.stderr.write('infraxa-provider: --max-queue must be a non-negative integer\n')
    return 2
  }
  let gpuFlag = (values.gpu as string | undefined) ?? 'cpu'
  if (/^\d+$/.test(gpuFlag)) {
    // llama.cpp picks devices through the driver's visibility list; a GPU build must be installed.
    process.env.CUDA_VISIBLE_DEVICES = gpuFlag
    process.env.GGML_VK_VISIBLE_DEVICES = gpuFlag
    gpuFlag = 'auto'
  }
  if (!['auto', 'cpu', 'cuda', 'vulkan', 'metal'].includes(gpuFlag)) {
    process.stderr.write(`infraxa-provider: unknown --gpu "${gpuFlag}"\n`)
    return 2
  }
  let metrics: { port: number; host?: string } | undefined
  if (values.metrics !== undefined) {
    const m = /^(?:\[?([^\]]*?)\]?:)?(\d{1,5})$/.exec(values.metrics as string)
    const port = Number(m?.[2])
    if (m === null || port > 65535) {
      process.stderr.write('infraxa-provider: --metrics takes [host:]port, e.g. 9100 or 0.0.0.0:9100\n')
      return 2
    }
    metrics = { port, ...(m[1] && { host: m[1] }) }
  }
  let stake: bigint
  let chain: ProviderChainOptions | undefined
  let payments: ProviderPaymentOptions | undefined
  try {
    stake = parseAmount((values.stake as string | undefined) ?? '0')
    const rpcUrl = values['chain-rpc'] as string | undefined
    const contract = values['stake-contract'] as string | undefined
    if ((rpcUrl === undefined) !== (contract === undefined)) {
      throw new InvalidArgumentError('--chain-rpc and --stake-contract go together')
    }
    if (rpcUrl !== undefined && contract !== undefined) {
      chain = { endpoint: { rpcUrl }, contract: parseAddress(contract) }
    }
    const channels = values['channels-contract'] as string | undefined
    if ((channels === undefined) !== (values.price === undefined)) {
      throw new InvalidArgumentError('--channels-contract and --price go together')
    }
    if (channels !== undefined && chain === undefined) {
      throw new InvalidArgumentError('--channels-contract needs --chain-rpc and --stake-contract')
    }
    if (channels !== undefined) {
      payments = { contract: parseAddress(channels), pricePer1kTokens: parseAmount(values.price as string) }
    }
  } catch (error) {
    process.stderr.write(`infraxa-provider: ${(error as Error).message}\n`)
    return 2
  }
  const listen =
    (values.listen as string[] | undefined) ?? (values.port ? [`/ip4/0.0.0.0/tcp/${values.port}`] : undefined)
  if ((values.bootstrap as string[] | undefined)?.length === 1) {
    // One bootstrap peer decides what this node first sees of the network (an eclipse if it lies).
    process.stderr.write(
      'infraxa-provider: warning: one --bootstrap peer; give 3 or more, run by different operators, so no single peer decides what this node sees\n',
    )
  }
  const progress = progressLines(process.stderr)
  try {
    const provider = await createProvider({
      models: models.map((m): ModelSource => (m.startsWith('hf:') ? { uri: m } : { path: m })),
      dataDir: (values['data-dir'] as string | undefined) ?? './infraxa-provider',
      ...(listen && { listen }),
      ...(values.bootstrap !== undefined && { bootstrap: values.bootstrap as string[] }),
      ...(values.announce !== undefined && { announce: values.announce as string[] }),
      mdns: values.mdns === true,
      ...(values.relay === true && { reachability: { relay: true } }),
      threads,
      limits: { maxConcurrentJobs: parallel, maxQueuedJobs: maxQueue },
      gpu: gpuFlag === 'cpu' ? false : (gpuFlag as 'auto'),
      stake,
      ...(chain && { chain }),
      ...(payments && { payments }),
      ...(metrics && { metrics }),
      onProgress: (model, p) => {
        if (p.phase === 'load')
          progress.show(`loading ${model}`, `${Math.round(p.fraction * 100)}%`, p.fraction)
        else
          progress.show(
            `downloading ${model}`,
            `${(p.downloadedBytes / 1e6).toFixed(1)} / ${(p.totalBytes / 1e6).toFixed(1)} MB`,
            p.totalBytes > 0 ? p.downloadedBytes / p.totalBytes : 0,
          )
      },
      // A progress line for long zk proofs (more than two windows).
      onZkProgress: (job, p) => {
        if (p.windows > 2) {
          process.stderr.write(
            `zk proof ${job.slice(0, 12)}: ${p.windowsDone}/${p.windows} windows (${(p.elapsedMs / 1000).toFixed(1)} s)\n`,
          )
        }
      },
    })
    progress.end()
    for (const m of provider.models) process.stdout.write(`serving ${m.name} (${m.hashHex})\n`)
    for (const a of provider.node.multiaddrs) process.stdout.write(`listening on ${a.toString()}\n`)
    if (provider.metricsUrl) process.stdout.write(`metrics on ${provider.metricsUrl}/metrics\n`)
    if (provider.stake) {
      process.stdout.write(
        `stake ${formatEther(provider.stake.amount)} ETH ${provider.stake.bonded ? 'bonded' : 'unbonding'} by ${provider.stake.owner}\n`,
      )
    }
    await new Promise<void>((resolve) => {
      const stop = () => resolve()
      process.once('SIGINT', stop)
      process.once('SIGTERM', stop)
    })
    for (const paid of await provider.redeemPayments()) {
      process.stdout.write(
        paid.error === undefined
          ? `redeemed ${formatEther(paid.amount)} ETH from channel ${paid.channel}\n`
          : `could not redeem channel ${paid.channel} (kept for the next start): ${paid.error}\n`,
      )
    }
    await provider.stop()
    return 0
  } catch (error) {
    progress.end()
    process.stderr.write(
      `infraxa-provider: ${error instanceof InfraxaError ? error.message : String(error)}\n`,
    )
    return 1
  }
}

/**
 * Progress of loading or downloading: one line rewritten in place on a terminal; elsewhere (a log
 * file, a pipe) a line per quarter done, so nothing is glued to the next message.
 */
function progressLines(stream: NodeJS.WriteStream) {
  let open = false
  const shown = new Map<string, number>()
  return {
    show(what: string, amount: string, fraction: number): void {
      if (stream.isTTY) {
        stream.write(`\r${what}: ${amount}\x1b[K`)
        open = true
        return
      }
      const quarter = Math.min(4, Math.floor(fraction * 4))
      if (shown.get(what) === quarter) return
      shown.set(what, quarter)
      stream.write(`${what}: ${amount}\n`)
    },
    /** Ends a line left open on a terminal. */
    end(): void {
      if (open) stream.write('\n')
      open = false
    },
  }
}
