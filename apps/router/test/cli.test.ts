import { afterEach, describe, expect, it, vi } from 'vitest'
import { main } from '../src/index.js'

describe('infraxa-router CLI', () => {
  afterEach(() => vi.restoreAllMocks())

  it('prints help and refuses bad flags with exit code 2, bad values with exit code 1', async () => {
    const out = vi.spyOn(process.stdout, 'write').mockImplementation(() => true)
    const err = vi.spyOn(process.stderr, 'write').mockImplementation(() => true)
    expect(await main(['--help'])).toBe(0)
    expect(String(out.mock.calls[0]?.[0])).toMatch(/POST \/v1\/chat\/completions/)
    expect(await main(['--nope'])).toBe(2)
    expect(
      await main(['--audit-rate', '2', '--http', '127.0.0.1:0', '--data-dir', '/tmp/infraxa-router-cli']),
    ).toBe(1)
    expect(await main(['--audit-steps', '0', '--data-dir', '/tmp/infraxa-router-cli'])).toBe(1)
    for (const bad of ['-1', 'soon', '0.01,', '0.01,0.003,1'])
      expect(await main([`--stepwise-audit-trigger=${bad}`, '--data-dir', '/tmp/infraxa-router-cli'])).toBe(1)
    const said = err.mock.calls.map((c) => String(c[0])).join('')
    expect(said).toMatch(/--audit-rate must be in 0\.\.1/)
    expect(said).toMatch(/--stepwise-audit-trigger must be "off", a number ≥ 0, or two of them/)
  })

  it('refuses half a chain configuration, bad amounts and addresses, and an endpoint that does not answer', async () => {
    const err = vi.spyOn(process.stderr, 'write').mockImplementation(() => true)
    vi.spyOn(process.stdout, 'write').mockImplementation(() => true)
    const base = ['--http', '127.0.0.1:0', '--data-dir', '/tmp/infraxa-router-cli-chain']
    const contract = '0x5FbDB2315678afecb367f032d93F642f64180aa3'
    expect(await main([...base, '--chain-rpc', 'http://127.0.0.1:9'])).toBe(1)
    expect(await main([...base, '--min-stake', '5eth'])).toBe(1)
    expect(await main([...base, '--chain-rpc', 'http://127.0.0.1:9', '--stake-contract', '0x12'])).toBe(1)
    expect(
      await main([
        ...base,
        '--chain-rpc',
        'http://127.0.0.1:9',
        '--stake-contract',
        contract,
        '--min-stake',
        'lots',
      ]),
    ).toBe(1)
    // Nothing listens on port 9: the router refuses to start rather than run without its stake checks.
    expect(await main([...base, '--chain-rpc', 'http://127.0.0.1:9', '--stake-contract', contract])).toBe(1)
    const said = err.mock.calls.map((c) => String(c[0])).join('')
    expect(said).toMatch(/--chain-rpc and --stake-contract go together/)
    expect(said).toMatch(/--min-stake and --bond need --chain-rpc/)
    expect(said).toMatch(/not a chain address/)
    expect(said).toMatch(/"lots" is not an amount/)
    expect(said).toMatch(/chain endpoint http:\/\/127\.0\.0\.1:9 did not answer/)
  })
})
