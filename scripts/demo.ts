/**
 * `pnpm demo`: two honest providers with different models, a router and the client on loopback; a
 * verified answer from each model, a verified stream, an optimistic and a zk answer; then a provider
 * that claims stories260K's hash but runs another model — caught, banned, and the client still gets a
 * verified answer, its stake slashed on the embedded chain — and one that streams tokens it does not
 * commit, caught before the client reads any; then the providers redeem what the router paid per token
 * for its verified answers (the cheaters nothing).
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import {
  connectChain,
  createEmbeddedChain,
  deployChannelsContract,
  deployStakeContract,
} from '@infraxa/chain'
import { ask } from '@infraxa/cli'
import { loadModel, quantizeModel, writeTestModel } from '@infraxa/engine'
import { createProvider, type Provider } from '@infraxa/provider'
import { createRouter, type Router } from '@infraxa/router'
import { formatEther, type Hex, parseEther } from 'viem'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'

const STORIES_URI = 'hf:ggml-org/models/tinyllamas/stories260K.gguf'
const root = resolve(import.meta.dirname, '..')
const work = mkdtempSync(join(tmpdir(), 'infraxa-demo-'))
const started = performance.now()
const log = (line: string) => console.log(`[${((performance.now() - started) / 1000).toFixed(1)}s] ${line}`)

/** stories260K from ../shared, else by URI when online, else a generated stand-in; says which. */
async function storiesModel(): Promise<{
  source: { path: string } | { uri: string }
  label: string
  /** The local file of the real stories260K (not of a stand-in). */
  real?: string
}> {
  const shared = process.env.INFRAXA_TEST_MODEL ?? join(root, '..', 'shared', 'models', 'stories260K.gguf')
  if (existsSync(shared))
    return { source: { path: shared }, label: `stories260K from ${shared}`, real: shared }
  try {
    const probe = await loadModel({ uri: STORIES_URI, threads: 1, download: { connectTimeoutMs: 3_000 } })
    await probe.dispose()
    return {
      source: { uri: STORIES_URI },
      label: `stories260K downloaded from ${STORIES_URI}`,
      real: probe.path,
    }
  } catch (error) {
    const path = join(work, 'stories-standin.gguf')
    await writeTestModel({ path, seed: 260, vocab: 512, dim: 64, layers: 2, ff: 128, type: 'q8_0' })
    return {
      source: { path },
      label: `a generated stand-in (stories260K not in ../shared and ${STORIES_URI} unreachable: ${(error as Error).message.split('\n')[0]})`,
    }
  }
}

/** What a provider advertises about a model file (the cheater copies stories260K's). */
async function summaryOf(source: { path: string } | { uri: string }) {
  const model = await loadModel({ ...source, threads: 1 })
  const { architecture, quantization, parameterCount } = model.summary
  const summary = { architecture, quantization, parameterCount, vocabSize: model.vocabSize }
  await model.dispose()
  return summary
}

interface Row {
  step: string
  model: string
  provider: string
  verdict: string
  audited: string
  streamed: string
  attempts: string
  ms: string
}
const rows: Row[] = []
const nodes: Array<Provider | Router> = []
let failed = false

function expect(condition: boolean, what: string): void {
  if (!condition) {
    failed = true
    console.error(`DEMO CHECK FAILED: ${what}`)
  }
}

try {
  const stories = await storiesModel()
  log(`model A: ${stories.label}`)
  // Model B: the Q8_0 quantisation of stories260K, written by the engine (real weights, English text,
  // a hash of its own); with a stand-in for A, another generated model.
  const modelB = join(work, 'stories260K-q8_0.gguf')
  if (stories.real !== undefined) {
    const q = await quantizeModel({ from: stories.real, to: modelB, type: 'q8_0' })
    log(
      `model B: stories260K-q8_0, ${q.tensorsQuantized} weight matrices quantised to Q8_0 by the engine, at ${modelB}`,
    )
  } else {
    await writeTestModel({ path: modelB, seed: 7, vocab: 512, dim: 96, layers: 2, ff: 192, type: 'q8_0' })
    log(`model B: a generated llama (seed 7, Q8_0) standing in for stories260K-q8_0, at ${modelB}`)
  }
  const cheaperPath = join(work, 'cheaper.gguf')
  await writeTestModel({ path: cheaperPath, seed: 99, vocab: 512, dim: 64, layers: 2, ff: 128, type: 'q8_0' })

  // The stake contract on an embedded chain (EDR, in this process): every provider bonds 10 ETH; the
  // router is the adjudicator (quorum 1).
  const keys = { router: generatePrivateKey(), a: generatePrivateKey(), b: generatePrivateKey() }
  const cheaterKey = generatePrivateKey()
  const streamerKey = generatePrivateKey()
  const chain = await createEmbeddedChain({
    accounts: [...Object.values(keys), cheaterKey, streamerKey].map((k) => ({
      address: privateKeyToAccount(k).address,
      balance: parseEther('100'),
    })),
  })
  const routerChain = await connectChain({ embedded: chain }, keys.router)
  const stakeContract = await deployStakeContract(routerChain, {
    adjudicators: [routerChain.address],
    quorum: 1,
    minBond: parseEther('0.1'),
  })
  const channels = await deployChannelsContract(routerChain)
  log(
    `stake contract ${stakeContract.address} and channels contract ${channels.address} on an embedded chain; adjudicator: the router`,
  )
  // Every provider bonds 10 ETH and charges 0.001 ETH per 1,000 tokens of a verified answer.
  const staked = (key: Hex) => ({
    stake: parseEther('10'),
    chain: { endpoint: { embedded: chain }, contract: stakeContract.address, privateKey: key },
    payments: { contract: channels.address, pricePer1kTokens: parseEther('0.001') },
  })

  const providerA = await createProvider({
    models: [{ ...stories.source, name: 'stories260K' }],
    dataDir: join(work, 'provider-a'),
    threads: 1,
    ...staked(keys.a),
  })
  nodes.push(providerA)
  const providerB = await createProvider({
    models: [{ path: modelB, name: 'stories260K-q8_0' }],
    dataDir: join(work, 'provider-b'),
    threads: 1,
    ...staked(keys.b),
  })
  nodes.push(providerB)
  log(
    `provider A ${providerA.peerId} serves ${providerA.models[0]!.name} (${providerA.models[0]!.hashHex.slice(0, 16)}…)`,
  )
  log(
    `provider B ${providerB.peerId} serves ${providerB.models[0]!.name} (${providerB.models[0]!.hashHex.slice(0, 16)}…)`,
  )

  const router = await createRouter({
    dataDir: join(work, 'router'),
    http: '127.0.0.1:0',
    bootstrap: [...providerA.node.multiaddrs, ...providerB.node.multiaddrs].map(String),
    verifyModels: [{ ...stories.source }, { path: modelB }],
    threads: 1,
    auditSteps: 4,
    // Demo: no probation, so streamed answers are verified streaming (a chunk behind the router's
    // re-execution) from the first job, and new identities are tried at once (each still audited).
    probationJobs: 0,
    chain: {
      endpoint: { embedded: chain },
      contract: stakeContract.address,
      privateKey: keys.router,
      pollIntervalMs: 200,
    },
    payments: { contract: channels.address, deposit: parseEther('1') },
  })
  nodes.push(router)
  log(`router ${router.peerId}, OpenAI-compatible API at ${router.url}`)

  const storiesHash = providerA.models[0]!.hashHex
  const run = async (
    step: string,
    model: string,
    prompt: string,
    stream = false,
    verification = 'merkle',
    temperature = 0,
  ) => {
    const t0 = performance.now()
    let streamed = ''
    const answer = await ask({
      router: router.url!,
      model,
      prompt,
      maxTokens: verification === 'zk_snark' ? 32 : 48,
      stream,
      verification,
      ...(temperature > 0 && { temperature, seed: 7 }),
      ...(stream && { onText: (t: string) => (streamed += t) }),
    })
    const r = answer.receipt as Record<string, any>
    log(`${step}: "${answer.text.trim().slice(0, 70)}${answer.text.length > 70 ? '…' : ''}"`)
    log(
      `  receipt ${r.receipt_id}: ${r.verdict} by ${r.provider.slice(-8)}, ${r.audited_steps} steps audited, ${r.attempts} attempt(s)`,
    )
    rows.push({
      step,
      // Every row names the model the same way, whether the request named it or gave its hash.
      model: model === storiesHash ? 'stories260K' : model,
      provider: r.provider.slice(-8),
      verdict: r.verdict,
      audited: String(r.audited_steps),
      streamed: stream ? String(r.streaming) : '-',
      attempts: String(r.attempts),
      ms: (performance.now() - t0).toFixed(0),
    })
    if (stream) expect(streamed === answer.text, 'streamed text equals the final answer')
    if (r.verdict === 'pending') {
      const settled = await router.whenSettled(r.receipt_id)
      log(`  optimistic answer settled by the router's watcher: ${settled.verdict} (${settled.reason})`)
      rows.at(-1)!.verdict = `pending → ${settled.verdict}`
      rows.at(-1)!.audited = '4 after'
      rows.at(-1)!.ms = (performance.now() - t0).toFixed(0)
      return { ...r, verdict: settled.verdict, text: answer.text }
    }
    return { ...r, text: answer.text }
  }

  const a = await run('1. merkle, model A', 'stories260K', 'Once upon a time')
  expect(
    a.verdict === 'verified' && a.provider === providerA.peerId,
    'model A answered and verified by provider A',
  )
  const b = await run('2. merkle, model B', 'stories260K-q8_0', 'Once upon a time')
  expect(
    b.verdict === 'verified' && b.provider === providerB.peerId,
    'model B answered and verified by provider B',
  )
  const s = await run('3. merkle, streamed (SSE), model A by hash', storiesHash, 'The little dog', true)
  expect(s.verdict === 'verified', 'streamed answer verified')

  const f = await run('4. fraud_proof (optimistic)', 'stories260K', 'Lily saw a bird', false, 'fraud_proof')
  expect(f.verdict === 'verified', 'optimistic answer settled verified')

  const z = await run('5. zk_snark (Groth16, greedy)', 'stories260K', 'Tom had a red ball', false, 'zk_snark')
  expect(z.verdict === 'verified', 'zk proofs verified')
  const zs = await run(
    '5b. zk_snark (Groth16, sampled at T = 0.8)',
    'stories260K',
    'Tom had a red ball',
    false,
    'zk_snark',
    0.8,
  )
  expect(zs.verdict === 'verified', 'zk proofs of a sampled answer verified')

  // The attack: a provider that claims stories260K's hash but runs a cheaper model.
  const cheater = await createProvider({
    models: [{ path: cheaperPath, name: 'stories260K' }],
    dataDir: join(work, 'cheater'),
    threads: 1,
    bootstrap: providerA.node.multiaddrs.map(String),
    // It lies in full: stories260K's hash and the record of stories260K's file.
    dishonest: { claimModelHash: providerA.models[0]!.hash, claimSummary: await summaryOf(stories.source) },
    ...staked(cheaterKey),
  })
  nodes.push(cheater)
  await router.node.libp2p.dial(cheater.node.multiaddrs[0]!)
  await router.refresh(2_000)
  log(`cheater ${cheater.peerId} joins, claiming stories260K's hash while running another model`)
  const c = await run('6. attack: substituted model', 'stories260K', 'Once upon a time')
  const cheaterRep = router.reputation.get(cheater.peerId)
  expect(cheaterRep.banned, 'the cheater is banned')
  expect(
    c.verdict === 'verified' && c.provider === providerA.peerId && c.attempts === 2,
    'client still got a verified answer from provider A on the retry',
  )
  const events = router.reputation.events(cheater.peerId)
  log(`  cheater banned: ${cheaterRep.banned} — ${cheaterRep.banReason}`)
  rows.push({
    step: '   ↳ cheater',
    model: 'claims A',
    provider: cheater.peerId.slice(-8),
    verdict: `banned (${events[0]?.event})`,
    audited: '4',
    streamed: '-',
    attempts: '-',
    ms: '-',
  })
  // The router proved the fraud on one step (a FRAUD_PROOF from the failed audit), accused the cheater's
  // slot with a bond and voted: slashed, half to the router, half burnt.
  const cheaterOwner = privateKeyToAccount(cheaterKey).address
  const slashDeadline = Date.now() + 30_000
  while (
    (await stakeContract.stakeOf(cheater.publicKey, cheaterOwner)).amount > 0n &&
    Date.now() < slashDeadline
  ) {
    await new Promise((r) => setTimeout(r, 100))
  }
  const left = (await stakeContract.stakeOf(cheater.publicKey, cheaterOwner)).amount
  const accusations = await stakeContract.accusationCount()
  const accusation = accusations > 0n ? await stakeContract.accusation(accusations - 1n) : undefined
  const burnt = await stakeContract.burnt()
  log(
    `  on chain: accusation #${accusation?.id ?? '-'} ${accusation?.status ?? 'none'} (${accusation?.guiltyVotes ?? 0}/1 votes); cheater's stake 10 → ${formatEther(left)} ETH, ${formatEther(parseEther('10') - left - burnt)} ETH to the router (challenger, with its bond back), ${formatEther(burnt)} ETH burnt`,
  )
  expect(left === 0n && accusation?.status === 'upheld', "the cheater's stake is slashed on chain")
  expect(
    (await stakeContract.stakeOf(providerA.publicKey, privateKeyToAccount(keys.a).address)).amount ===
      parseEther('10'),
    "the honest provider's stake is intact",
  )
  rows.push({
    step: '   ↳ stake',
    model: 'on chain',
    provider: cheater.peerId.slice(-8),
    verdict: `slashed 10 → ${formatEther(left)} ETH (${formatEther(burnt)} burnt)`,
    audited: '1 step',
    streamed: '-',
    attempts: '-',
    ms: '-',
  })
  const again = await run('7. after the ban', 'stories260K', 'A cat sat')
  expect(again.provider === providerA.peerId && again.attempts === 1, 'banned provider is no longer selected')

  // The second attack: a provider that runs the real model and commits honestly, but streams other
  // tokens (what a client would read). The router's chunk check rejects them before any text leaves.
  const streamer = await createProvider({
    models: [{ ...stories.source, name: 'stories260K' }],
    dataDir: join(work, 'streamer'),
    threads: 1,
    dishonest: { streamToken: (t, token) => (t === 3 ? (token + 7) % 512 : token) },
    // Staked like the others, so it is selected as often (an unstaked one gets probation traffic only).
    ...staked(streamerKey),
  })
  nodes.push(streamer)
  await router.node.libp2p.dial(streamer.node.multiaddrs[0]!)
  await router.refresh(2_000)
  log(`streamer ${streamer.peerId} joins: runs stories260K, but streams a token it does not commit`)
  const sv = await run('8. attack: streams other tokens', 'stories260K', 'The sun was warm', true)
  expect(router.reputation.get(streamer.peerId).banned, 'the streamer is banned')
  expect(
    sv.verdict === 'verified' && sv.provider === providerA.peerId && sv.attempts === 2,
    'client got a verified answer from provider A on the retry',
  )
  const honestText = (
    await ask({ router: router.url!, model: 'stories260K', prompt: 'The sun was warm', maxTokens: 48 })
  ).text
  expect(sv.text === honestText, "the client read only verified text: none of the streamer's tokens")
  rows.push({
    step: '   ↳ streamer',
    model: 'stories260K',
    provider: streamer.peerId.slice(-8),
    verdict: `banned (${router.reputation.events(streamer.peerId)[0]?.event})`,
    audited: '-',
    streamed: 'none read',
    attempts: '-',
    ms: '-',
  })

  // Pay per token: the router signed a cumulative voucher after every answer it verified; each provider
  // redeems its latest in one close. The cheater's and the streamer's failed jobs were never paid.
  await router.payer!.idle()
  const paidA = router.payer!.paidTo(providerA.peerId)
  const [redeemedA] = await providerA.redeemPayments()
  const redeemedB = await providerB.redeemPayments()
  log(
    `  pay per token: provider A redeemed ${formatEther(redeemedA?.amount ?? 0n)} ETH in one close, provider B ${formatEther(redeemedB[0]?.amount ?? 0n)} ETH; the cheater and the streamer hold ${cheater.heldPayments().length + streamer.heldPayments().length} vouchers`,
  )
  expect(redeemedA?.amount === paidA && paidA > 0n, 'provider A was paid exactly what the router signed')
  expect(
    cheater.heldPayments().length === 0 && streamer.heldPayments().length === 0,
    'failed answers were never paid',
  )
  rows.push({
    step: '9. pay per token (channel close)',
    model: 'on chain',
    provider: providerA.peerId.slice(-8),
    verdict: `paid ${formatEther(redeemedA?.amount ?? 0n)} ETH; cheaters 0`,
    audited: '-',
    streamed: '-',
    attempts: '-',
    ms: '-',
  })
} catch (error) {
  failed = true
  console.error('demo failed:', error)
} finally {
  for (const n of nodes.reverse()) await n.stop().catch(() => {})
  rmSync(work, { recursive: true, force: true })
}

const cols: Array<keyof Row> = [
  'step',
  'model',
  'provider',
  'verdict',
  'audited',
  'streamed',
  'attempts',
  'ms',
]
const width = cols.map((c) => Math.max(c.length, ...rows.map((r) => r[c].length)))
const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(width[i]!)).join(' | ')} |`
console.log(`\n${line(cols)}\n${line(width.map((w) => '-'.repeat(w)))}`)
for (const r of rows) console.log(line(cols.map((c) => r[c])))
console.log(
  `\n${failed ? 'DEMO FAILED' : 'demo ok'} in ${((performance.now() - started) / 1000).toFixed(1)} s; every node stopped.`,
)
process.exit(failed ? 1 : 0)
