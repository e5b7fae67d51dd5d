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
    expect(err.mock.calls.map((c) => String(c[0])).join('')).toMatch(/--audit-rate must be in 0\.\.1/)
  })
})
