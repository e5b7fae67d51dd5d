import { availableParallelism } from 'node:os'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { main } from '../src/index.js'

describe('infraxa-provider CLI', () => {
  afterEach(() => vi.restoreAllMocks())

  it('prints help, and refuses missing models, bad thread counts and unknown backends with exit code 2', async () => {
    const out = vi.spyOn(process.stdout, 'write').mockImplementation(() => true)
    const err = vi.spyOn(process.stderr, 'write').mockImplementation(() => true)
    expect(await main(['--help'])).toBe(0)
    expect(String(out.mock.calls[0]?.[0])).toMatch(/--model <path\|hf:uri>/)
    expect(await main([])).toBe(2)
    expect(await main(['--model', 'x.gguf', '--threads', '0'])).toBe(2)
    // More threads than cores: refused (1,000 on 2 cores made every job time out).
    expect(await main(['--model', 'x.gguf', '--threads', String(availableParallelism() + 1)])).toBe(2)
    expect(await main(['--model', 'x.gguf', '--gpu', 'quantum'])).toBe(2)
    expect(await main(['--model', 'x.gguf', '--parallel', '0'])).toBe(2)
    expect(await main(['--model', 'x.gguf', '--max-queue', '-1'])).toBe(2)
    expect(await main(['--model', 'x.gguf', '--metrics', 'localhost'])).toBe(2)
    expect(await main(['--model', 'x.gguf', '--metrics', '99999'])).toBe(2)
    expect(String(out.mock.calls[0]?.[0])).toMatch(/--parallel <n>/)
    expect(await main(['--nope'])).toBe(2)
    expect(await main(['--model', 'x.gguf', '--stake', 'lots'])).toBe(2)
    expect(await main(['--model', 'x.gguf', '--chain-rpc', 'http://127.0.0.1:9'])).toBe(2)
    expect(
      await main(['--model', 'x.gguf', '--chain-rpc', 'http://127.0.0.1:9', '--stake-contract', '0x1']),
    ).toBe(2)
    expect(await main(['--model', 'x.gguf', '--price', '1eth'])).toBe(2)
    expect(
      await main([
        '--model',
        'x.gguf',
        '--channels-contract',
        '0x5FbDB2315678afecb367f032d93F642f64180aa3',
        '--price',
        '1eth',
      ]),
    ).toBe(2)
    const said = err.mock.calls.map((c) => String(c[0])).join('')
    expect(said).toMatch(/--channels-contract and --price go together/)
    expect(said).toMatch(/--channels-contract needs --chain-rpc/)
    expect(said).toMatch(/give at least one --model/)
    expect(said).toMatch(/"lots" is not an amount/)
    expect(said).toMatch(/--chain-rpc and --stake-contract go together/)
    expect(said).toMatch(/not a chain address/)
  })

  it('fails with a clear message (exit 1) for a model file that does not exist', async () => {
    vi.spyOn(process.stdout, 'write').mockImplementation(() => true)
    const err = vi.spyOn(process.stderr, 'write').mockImplementation(() => true)
    expect(await main(['--model', '/nonexistent/model.gguf', '--data-dir', '/tmp/infraxa-cli-test'])).toBe(1)
    expect(err.mock.calls.map((c) => String(c[0])).join('')).toMatch(/not found|no such|does not exist/i)
  })
})
