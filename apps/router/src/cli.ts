import { parseArgs } from 'node:util'
import { parseAddress, parseAmount } from '@infraxa/chain'
import { defaultThreads, STEPWISE_AUDIT_TRIGGER } from '@infraxa/engine'
import type { StepwiseTrigger } from '@infraxa/proofs/modes'
import { InfraxaError, InvalidArgumentError } from '@infraxa/protocol'
import type { RouterPaymentOptions } from './payer.js'
import { createRouter, type VerifyModelSource } from './router.js'
import type { RouterChainOptions } from './stake-ledger.js'

const HELP = `infraxa-router — find providers, verify their answers, serve an OpenAI-compatible API

Usage: infraxa-router --verify-model <gguf path | hf: uri> [options]

Options:
  --listen <multiaddr>       libp2p listen address (default /ip4/127.0.0.1/tcp/0; repeatable)
  --announce <multiaddr>     address to announce instead of the listen ones (repeatable): a public
                             address is announced only once AutoNAT has confirmed it, or when given here
  --bootstrap <multiaddr>    bootstrap peer (repeatable; several resist eclipse attacks)
  --data-dir <dir>           node key, VRF key, reputation and receipts (default ./infraxa-router)
  --http <host:port>         HTTP API address (default 127.0.0.1:8080)
  --verify-model <path|uri>  a model this router re-executes to audit answers (repeatable)
  --threads <n>              CPU threads for verify models (default: cores − 1, 1..8; here ${defaultThreads()})
  --verify-contexts <n>      replays run at once per verify model, each on its own context (default 1)
  --audit-steps <c>          transcript steps audited per job (default 4)
  --audit-rate <r>           fraction of jobs audited after probation, 0..1 (default 1)
  --probation-jobs <n>       clean jobs before a new provider leaves probation (every job audited
                             and held until then; default 10, 0: none)
  --max-pending <n>          completions waiting or running per model; past it HTTP 429 with
                             Retry-After (default 256)
  --mdns                     discover providers on the LAN
  --relay                    serve as a circuit relay v2 for peers behind NAT (64 MiB, 10 min per
                             relayed connection); a node behind NAT listens through one with
                             --listen <relay multiaddr>/p2p-circuit
  --allow-unmeasured-engines also use providers on engines with no measured noise model (GPUs,
                             another llama.cpp release): catches another model, not another
                             quantisation. Other CPU builds are always used, with their measured bounds
  --same-build-only          only providers on this router's own build and settings (tightest checks)
  --stepwise-audit-rate <r>  share of audited jobs also re-executed stepwise, bit-exact, 0..1 (default
                             0.05): catches weight swaps that changed no token
  --stepwise-audit-trigger <max>[,<mean>]
                             on the other audited jobs, re-execute stepwise when an opened step's
                             log-probs moved more than <max>, or all of them more than <mean> on
                             average (default 0.01,0.003: beyond honest prefill drift; "off": never)
  --no-stepwise              do not re-check mismatching float-model jobs stepwise (bit-exact, about
                             the cost of generating them): near-tie cheats then only go grey
  --chain-rpc <url>          EVM JSON-RPC endpoint holding the stake contract (with --stake-contract):
                             selection reads providers' bonded stake, proven fraud is accused there,
                             and an adjudicator router votes (chain key: <data-dir>/chain.key)
  --stake-contract <addr>    the stake contract's address
  --min-stake <amount>       bonded stake a provider needs to be selected (wei or 5eth; default 0:
                             unstaked providers get probation traffic only)
  --bond <amount>            bond posted with each accusation (default: the contract's minimum)
  --channels-contract <addr> pay providers per verified answer through this channels contract
  --channel-deposit <amount> deposit of each payment channel the router opens (default 0.1eth)
  -h, --help                 this help

HTTP: POST /v1/chat/completions and /v1/completions (OpenAI-compatible, stream: true for SSE), GET /v1/models,
GET /v1/receipts/:id, GET /health, GET /metrics
`

export async function main(argv: string[]): Promise<number> {
  let values: Record<string, string | string[] | boolean | undefined>
  try {
    ;({ values } = parseArgs({
      args: argv,
      options: {
        listen: { type: 'string', multiple: true },
        bootstrap: { type: 'string', multiple: true },
        announce: { type: 'string', multiple: true },
        'data-dir': { type: 'string' },
        http: { type: 'string' },
        'verify-model': { type: 'string', multiple: true },
        threads: { type: 'string' },
        'verify-contexts': { type: 'string' },
        'audit-steps': { type: 'string' },
        'audit-rate': { type: 'string' },
        'probation-jobs': { type: 'string' },
        'max-pending': { type: 'string' },
        mdns: { type: 'boolean' },
        relay: { type: 'boolean' },
        'allow-unmeasured-engines': { type: 'boolean' },
        'same-build-only': { type: 'boolean' },
        'no-stepwise': { type: 'boolean' },
        'stepwise-audit-rate': { type: 'string' },
        'stepwise-audit-trigger': { type: 'string' },
        'chain-rpc': { type: 'string' },
        'stake-contract': { type: 'string' },
        'min-stake': { type: 'string' },
        bond: { type: 'string' },
        'channels-contract': { type: 'string' },
        'channel-deposit': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }))
  } catch (error) {
    process.stderr.write(`infraxa-router: ${(error as Error).message}\n\n${HELP}`)
    return 2
  }
  if (values.help) {
    process.stdout.write(HELP)
    return 0
  }
  const int = (name: string, fallback: number, min: number) => {
    const n = Number(values[name] ?? fallback)
    if (!Number.isInteger(n) || n < min)
      throw new InfraxaError('ERR_BAD_ARGUMENT', `--${name} must be an integer ≥ ${min}`)
    return n
  }
  try {
    const stepwiseAuditRate = Number(values['stepwise-audit-rate'] ?? 0.05)
    if (!(stepwiseAuditRate >= 0 && stepwiseAuditRate <= 1))
      throw new InfraxaError('ERR_BAD_ARGUMENT', '--stepwise-audit-rate must be a number in 0..1')
    const stepwiseAuditTrigger = parseTrigger(values['stepwise-audit-trigger'] as string | undefined)
    const auditRate = Number(values['audit-rate'] ?? 1)
    if (!(auditRate >= 0 && auditRate <= 1))
      throw new InfraxaError('ERR_BAD_ARGUMENT', '--audit-rate must be in 0..1')
    const verifyModels = ((values['verify-model'] as string[] | undefined) ?? []).map(
      (m): VerifyModelSource => (m.startsWith('hf:') ? { uri: m } : { path: m }),
    )
    if ((values.bootstrap as string[] | undefined)?.length === 1) {
      // One bootstrap peer decides what this node first sees of the network (an eclipse if it lies).
      process.stderr.write(
        'infraxa-router: warning: one --bootstrap peer; give 3 or more, run by different operators, so no single peer decides what this node sees\n',
      )
    }
    const rpcUrl = values['chain-rpc'] as string | undefined
    const contract = values['stake-contract'] as string | undefined
    if ((rpcUrl === undefined) !== (contract === undefined))
      throw new InvalidArgumentError('--chain-rpc and --stake-contract go together')
    if (rpcUrl === undefined && (values['min-stake'] !== undefined || values.bond !== undefined))
      throw new InvalidArgumentError('--min-stake and --bond need --chain-rpc and --stake-contract')
    const chain: RouterChainOptions | undefined =
      rpcUrl !== undefined && contract !== undefined
        ? {
            endpoint: { rpcUrl },
            contract: parseAddress(contract),
            ...(values['min-stake'] !== undefined && {
              minStake: parseAmount(values['min-stake'] as string),
            }),
            ...(values.bond !== undefined && { bond: parseAmount(values.bond as string) }),
          }
        : undefined
    const channelsContract = values['channels-contract'] as string | undefined
    if (chain === undefined && (channelsContract !== undefined || values['channel-deposit'] !== undefined))
      throw new InvalidArgumentError(
        '--channels-contract and --channel-deposit need --chain-rpc and --stake-contract',
      )
    const payments: RouterPaymentOptions | undefined =
      channelsContract !== undefined
        ? {
            contract: parseAddress(channelsContract),
            ...(values['channel-deposit'] !== undefined && {
              deposit: parseAmount(values['channel-deposit'] as string),
            }),
          }
        : undefined
    if (verifyModels.length === 0)
      process.stderr.write('infraxa-router: no --verify-model: answers in merkle mode cannot be verified\n')
    const router = await createRouter({
      dataDir: (values['data-dir'] as string | undefined) ?? './infraxa-router',
      ...(values.listen !== undefined && { listen: values.listen as string[] }),
      ...(values.bootstrap !== undefined && { bootstrap: values.bootstrap as string[] }),
      ...(values.announce !== undefined && { announce: values.announce as string[] }),
      http: (values.http as string | undefined) ?? '127.0.0.1:8080',
      verifyModels,
      threads: int('threads', defaultThreads(), 1),
      verifyContexts: int('verify-contexts', 1, 1),
      auditSteps: int('audit-steps', 4, 1),
      auditRate,
      probationJobs: int('probation-jobs', 10, 0),
      maxPendingPerModel: int('max-pending', 256, 1),
      mdns: values.mdns === true,
      ...(values.relay === true && { reachability: { relay: true } }),
      allowUnmeasuredEngines: values['allow-unmeasured-engines'] === true,
      sameBuildOnly: values['same-build-only'] === true,
      stepwiseFollowUp: values['no-stepwise'] !== true,
      stepwiseAuditRate,
      stepwiseAuditTrigger,
      ...(chain && { chain }),
      ...(payments && { payments }),
    })
    process.stdout.write(`router ${router.peerId}\n`)
    if (router.stake) {
      process.stdout.write(
        `stake contract ${router.stake.contract.address} as ${router.stake.address}${router.stake.isAdjudicator ? ' (adjudicator)' : ''}\n`,
      )
    }
    for (const a of router.node.multiaddrs) process.stdout.write(`listening on ${a.toString()}\n`)
    process.stdout.write(`HTTP API on ${router.url}\n`)
    await new Promise<void>((resolve) => {
      process.once('SIGINT', () => resolve())
      process.once('SIGTERM', () => resolve())
    })
    await router.stop()
    return 0
  } catch (error) {
    process.stderr.write(`infraxa-router: ${error instanceof InfraxaError ? error.message : String(error)}\n`)
    return 1
  }
}

/** `--stepwise-audit-trigger`: "off", "<max>" (the mean bound as default) or "<max>,<mean>". */
function parseTrigger(value: string | undefined): StepwiseTrigger | false {
  if (value === undefined) return STEPWISE_AUDIT_TRIGGER
  if (value === 'off') return false
  const [max, mean, ...rest] = value.split(',').map((x) => (x.trim() === '' ? Number.NaN : Number(x)))
  const trigger = { maxDelta: max!, meanDelta: mean ?? STEPWISE_AUDIT_TRIGGER.meanDelta }
  if (rest.length > 0 || !(trigger.maxDelta >= 0) || !(trigger.meanDelta >= 0))
    throw new InfraxaError(
      'ERR_BAD_ARGUMENT',
      '--stepwise-audit-trigger must be "off", a number ≥ 0, or two of them: <max>,<mean>',
    )
  return trigger
}
