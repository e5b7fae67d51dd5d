import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type Address, type Hex, parseEther } from 'viem'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  type ChainConnection,
  ChainUnreachableError,
  ContractRevertedError,
  connectChain,
  createEmbeddedChain,
  deployStakeContract,
  type EmbeddedChain,
  InsufficientFundsError,
  loadOrCreateChainKey,
  NoContractError,
  openStakeContract,
  type StakeContract,
} from '../src/index.js'

const keys = {
  deployer: generatePrivateKey(),
  provider: generatePrivateKey(),
  challenger: generatePrivateKey(),
  adjudicatorA: generatePrivateKey(),
  adjudicatorB: generatePrivateKey(),
  adjudicatorC: generatePrivateKey(),
  poor: generatePrivateKey(),
}
type Who = keyof typeof keys
const addressOf = (who: Who): Address => privateKeyToAccount(keys[who]).address
const peerKey = new Uint8Array(32).fill(7)
const otherPeerKey = new Uint8Array(32).fill(9)
const evidence = (n: number) => new TextEncoder().encode(`fraud proof #${n}`)

let chain: EmbeddedChain
const as: Partial<Record<Who, ChainConnection>> = {}
const stakeAs: Partial<Record<Who, StakeContract>> = {}
let address: Address

async function balance(who: Who): Promise<bigint> {
  return as.deployer!.publicClient.getBalance({ address: addressOf(who) })
}
async function passTime(seconds: number): Promise<void> {
  await chain.request({ method: 'evm_increaseTime', params: [seconds] } as never)
  await chain.request({ method: 'evm_mine', params: [] } as never)
}
async function refused(promise: Promise<unknown>): Promise<ContractRevertedError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(error).toBeInstanceOf(ContractRevertedError)
  return error as ContractRevertedError
}

beforeAll(async () => {
  chain = await createEmbeddedChain({
    accounts: (Object.keys(keys) as Who[])
      .filter((w) => w !== 'poor')
      .map((w) => ({ address: addressOf(w), balance: parseEther('100') })),
  })
  for (const who of Object.keys(keys) as Who[])
    as[who] = await connectChain({ embedded: chain }, keys[who] as Hex)
  const contract = await deployStakeContract(as.deployer!, {
    adjudicators: [addressOf('adjudicatorA'), addressOf('adjudicatorB'), addressOf('adjudicatorC')],
    quorum: 2,
    minBond: parseEther('0.1'),
    unbondingSeconds: 3_600,
    votingSeconds: 600,
    slashBps: 10_000,
    rewardBps: 5_000,
  })
  address = contract.address
  for (const who of Object.keys(keys) as Who[]) stakeAs[who] = await openStakeContract(as[who]!, address)
})

describe('stake contract on the embedded chain', () => {
  it('deploys with the parameters asked; refuses impossible ones', async () => {
    expect(await stakeAs.provider!.parameters()).toMatchObject({
      quorum: 2,
      minBond: parseEther('0.1'),
      unbondingSeconds: 3_600,
      votingSeconds: 600,
      adjudicatorCount: 3,
    })
    const a = addressOf('adjudicatorA')
    for (const bad of [
      { adjudicators: [a], quorum: 2 },
      { adjudicators: [a], quorum: 0 },
      { adjudicators: [a, a], quorum: 1 },
      { adjudicators: [a], quorum: 1, unbondingSeconds: 60, votingSeconds: 60 },
      { adjudicators: [a], quorum: 1, slashBps: 10_001 },
    ]) {
      const error = await refused(deployStakeContract(as.deployer!, bad))
      expect(error.reason).toBe('InvalidParameters')
    }
  })

  it('stake → fraud proven by a quorum of adjudicators → slot slashed, challenger paid bond + reward, rest burnt', async () => {
    await stakeAs.provider!.stake(peerKey, parseEther('10'))
    expect(await stakeAs.provider!.stakeOf(peerKey, addressOf('provider'))).toEqual({
      amount: parseEther('10'),
      unlockAt: undefined,
      openAccusations: 0,
      bonded: true,
    })
    const challengerBefore = await balance('challenger')
    const id = await stakeAs.challenger!.accuse(
      peerKey,
      addressOf('provider'),
      evidence(1),
      parseEther('0.5'),
    )
    expect((await stakeAs.provider!.stakeOf(peerKey, addressOf('provider'))).openAccusations).toBe(1)
    await stakeAs.adjudicatorA!.vote(id, true)
    expect((await stakeAs.provider!.accusation(id)).status).toBe('open')
    await stakeAs.adjudicatorB!.vote(id, true)
    const decided = await stakeAs.provider!.accusation(id)
    expect(decided).toMatchObject({ status: 'upheld', guiltyVotes: 2, challenger: addressOf('challenger') })
    expect(await stakeAs.provider!.stakeOf(peerKey, addressOf('provider'))).toMatchObject({
      amount: 0n,
      openAccusations: 0,
    })
    // Half of the 10 slashed to the challenger with its bond; the other half burnt.
    expect(await stakeAs.provider!.owed(addressOf('challenger'))).toBe(parseEther('5.5'))
    expect(await stakeAs.provider!.burnt()).toBe(parseEther('5'))
    await stakeAs.challenger!.claim()
    const gain = (await balance('challenger')) - challengerBefore
    // +5 reward, less gas (the bond came back).
    expect(gain).toBeGreaterThan(parseEther('4.99'))
    expect(gain).toBeLessThan(parseEther('5'))
    // Decided: a third vote is refused, and so is the same evidence again.
    expect((await refused(stakeAs.adjudicatorC!.vote(id, true))).reason).toBe('AccusationClosed')
    await stakeAs.provider!.stake(peerKey, parseEther('1'))
    expect(
      (
        await refused(
          stakeAs.challenger!.accuse(peerKey, addressOf('provider'), evidence(1), parseEther('0.5')),
        )
      ).reason,
    ).toBe('EvidenceAlreadyUsed')
  })

  it('a false accusation loses the bond; the accused keeps its stake', async () => {
    await stakeAs.provider!.stake(otherPeerKey, parseEther('3'))
    const burntBefore = await stakeAs.provider!.burnt()
    const id = await stakeAs.challenger!.accuse(
      otherPeerKey,
      addressOf('provider'),
      evidence(2),
      parseEther('0.2'),
    )
    await stakeAs.adjudicatorA!.vote(id, false)
    await stakeAs.adjudicatorC!.vote(id, false)
    expect((await stakeAs.provider!.accusation(id)).status).toBe('rejected')
    expect((await stakeAs.provider!.stakeOf(otherPeerKey, addressOf('provider'))).amount).toBe(
      parseEther('3'),
    )
    expect((await stakeAs.provider!.burnt()) - burntBefore).toBe(parseEther('0.2'))
    expect(await stakeAs.provider!.owed(addressOf('challenger'))).toBe(0n)
  })

  it('refuses a bond under the minimum, an accusation of an empty slot, a vote by a non-adjudicator and a double vote', async () => {
    const owner = addressOf('provider')
    const small = await refused(
      stakeAs.challenger!.accuse(otherPeerKey, owner, evidence(3), parseEther('0.01')),
    )
    expect(small.reason).toBe('BondTooSmall')
    expect(small.args).toEqual([parseEther('0.1')])
    expect(
      (
        await refused(
          stakeAs.challenger!.accuse(otherPeerKey, addressOf('challenger'), evidence(3), parseEther('1')),
        )
      ).reason,
    ).toBe('NothingStaked')
    const id = await stakeAs.challenger!.accuse(otherPeerKey, owner, evidence(4), parseEther('0.1'))
    expect((await refused(stakeAs.challenger!.vote(id, true))).reason).toBe('NotAdjudicator')
    await stakeAs.adjudicatorB!.vote(id, true)
    expect((await refused(stakeAs.adjudicatorB!.vote(id, true))).reason).toBe('AlreadyVoted')
    expect((await refused(stakeAs.adjudicatorA!.vote(999n, true))).reason).toBe('UnknownAccusation')
    // Nobody else votes: after the voting time it expires and the bond can be claimed back.
    expect((await refused(stakeAs.challenger!.expire(id))).reason).toBe('VotingOpen')
    await passTime(601)
    expect((await refused(stakeAs.adjudicatorA!.vote(id, true))).reason).toBe('VotingClosed')
    await stakeAs.challenger!.expire(id)
    expect((await stakeAs.provider!.accusation(id)).status).toBe('expired')
    expect(await stakeAs.provider!.owed(addressOf('challenger'))).toBe(parseEther('0.1'))
    await stakeAs.challenger!.claim()
    expect((await refused(stakeAs.challenger!.claim())).reason).toBe('NothingOwed')
  })

  it('withdrawal before unbonding is refused, and while accused; after the period it pays out', async () => {
    const owner = addressOf('provider')
    expect((await refused(stakeAs.provider!.withdraw(otherPeerKey))).reason).toBe('NotUnbonding')
    await stakeAs.provider!.startUnbonding(otherPeerKey)
    const slot = await stakeAs.provider!.stakeOf(otherPeerKey, owner)
    expect(slot.bonded).toBe(false)
    const early = await refused(stakeAs.provider!.withdraw(otherPeerKey))
    expect(early.reason).toBe('StillBonded')
    expect(early.args).toEqual([BigInt(slot.unlockAt!)])
    expect((await refused(stakeAs.provider!.stake(otherPeerKey, 1n))).reason).toBe('StakeUnbonding')
    // Still slashable while unbonding: an accusation holds the withdrawal.
    const id = await stakeAs.challenger!.accuse(otherPeerKey, owner, evidence(5), parseEther('0.1'))
    await passTime(3_601)
    expect((await refused(stakeAs.provider!.withdraw(otherPeerKey))).reason).toBe('AccusationPending')
    await stakeAs.challenger!.expire(id)
    const before = await balance('provider')
    await stakeAs.provider!.withdraw(otherPeerKey)
    expect((await balance('provider')) - before).toBeGreaterThan(parseEther('2.99'))
    expect((await stakeAs.provider!.stakeOf(otherPeerKey, owner)).amount).toBe(0n)
  })

  it('reads accusations in block ranges of a given size, none lost at the seams', async () => {
    const all = await stakeAs.provider!.accusationsSince(0n)
    const latest = await stakeAs.provider!.blockNumber()
    expect(all.toBlock).toBe(latest)
    const pieced: bigint[] = []
    for (let from = 0n; from <= latest; ) {
      const part = await stakeAs.provider!.accusationsSince(from, 3n)
      expect(part.toBlock - from).toBeLessThan(3n)
      pieced.push(...part.accusations.map((a) => a.id))
      from = part.toBlock + 1n
    }
    expect(pieced).toEqual(all.accusations.map((a) => a.id))
    expect(pieced.length).toBe(Number(await stakeAs.provider!.accusationCount()))
    expect(new TextDecoder().decode(all.accusations[0]!.evidence)).toBe('fraud proof #1')
  })

  it('an account without funds gets InsufficientFundsError; a wrong address NoContractError', async () => {
    await expect(stakeAs.poor!.stake(peerKey, parseEther('1'))).rejects.toBeInstanceOf(InsufficientFundsError)
    await expect(openStakeContract(as.deployer!, addressOf('poor'))).rejects.toBeInstanceOf(NoContractError)
    await expect(stakeAs.provider!.stake(new Uint8Array(31), 1n)).rejects.toThrow(/32-byte/)
  })
})

describe('connecting', () => {
  it('a JSON-RPC endpoint that does not answer is ChainUnreachableError, at once', async () => {
    // Port 9 (discard) on loopback: nothing listens there.
    await expect(
      connectChain({ rpcUrl: 'http://127.0.0.1:9' }, generatePrivateKey(), { timeoutMs: 2_000 }),
    ).rejects.toBeInstanceOf(ChainUnreachableError)
  })

  const dir = mkdtempSync(join(tmpdir(), 'infraxa-chain-key-'))
  afterAll(() => rmSync(dir, { recursive: true, force: true }))
  it('the chain key is created 0600 in the data dir and read back; a damaged file is refused', () => {
    const key = loadOrCreateChainKey(dir)
    expect(key).toMatch(/^0x[0-9a-f]{64}$/)
    expect(statSync(join(dir, 'chain.key')).mode & 0o777).toBe(0o600)
    expect(loadOrCreateChainKey(dir)).toBe(key)
    expect(readFileSync(join(dir, 'chain.key'), 'utf8').trim()).toBe(key)
    const other = mkdtempSync(join(tmpdir(), 'infraxa-chain-key-bad-'))
    writeFileSync(join(other, 'chain.key'), 'not a key')
    expect(() => loadOrCreateChainKey(other)).toThrow(/does not hold a chain key/)
    rmSync(other, { recursive: true, force: true })
  })
})

describe('parseAmount and parseAddress', () => {
  it('reads wei and decimal ether / gwei; refuses the rest', async () => {
    const { parseAmount, parseAddress } = await import('../src/index.js')
    expect(parseAmount('1000')).toBe(1000n)
    expect(parseAmount('5eth')).toBe(parseEther('5'))
    expect(parseAmount(' 0.25 ETH ')).toBe(parseEther('0.25'))
    expect(parseAmount('30gwei')).toBe(30_000_000_000n)
    for (const bad of ['', '-1', '1.5', '5 btc', '1e18', 'eth', '0x10']) {
      expect(() => parseAmount(bad), bad).toThrow(/not an amount/)
    }
    const a = privateKeyToAccount(generatePrivateKey()).address
    expect(parseAddress(a.toLowerCase())).toBe(a)
    expect(() => parseAddress('0x1234')).toThrow(/not a chain address/)
  })
})

describe('over HTTP JSON-RPC', () => {
  it('the same contract calls work through an http endpoint (test double: the embedded chain served over node:http)', async () => {
    const { createServer } = await import('node:http')
    const served = await createEmbeddedChain({
      accounts: [{ address: addressOf('deployer'), balance: parseEther('10') }],
      chainId: 4242,
    })
    const server = createServer(async (req, res) => {
      let body = ''
      for await (const chunk of req) body += chunk
      const call = JSON.parse(body) as { id: number; method: string; params: unknown[] }
      let answer: unknown
      try {
        answer = { jsonrpc: '2.0', id: call.id, result: await served.request(call as never) }
      } catch (e) {
        const error = e as { code: number; message: string; data?: unknown }
        answer = {
          jsonrpc: '2.0',
          id: call.id,
          error: { code: error.code, message: error.message, data: error.data },
        }
      }
      res.setHeader('content-type', 'application/json')
      res.end(JSON.stringify(answer))
    })
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()))
    try {
      const { port } = server.address() as { port: number }
      const connection = await connectChain({ rpcUrl: `http://127.0.0.1:${port}` }, keys.deployer as Hex)
      expect(connection.chain.id).toBe(4242)
      const contract = await deployStakeContract(connection, { adjudicators: [addressOf('deployer')] })
      await contract.stake(peerKey, parseEther('1'))
      expect((await contract.stakeOf(peerKey, addressOf('deployer'))).amount).toBe(parseEther('1'))
      const early = await refused(contract.withdraw(peerKey))
      expect(early.reason).toBe('NotUnbonding')
    } finally {
      server.close()
    }
  })
})
