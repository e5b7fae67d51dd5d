import { spawn } from 'node:child_process'

/**
 * Runs a command to its end and resolves with its exit code and output; killed after `timeoutMs`
 * (exit code null), so a process that hangs fails the test instead of stalling it.
 */
export function runToEnd(
  command: string,
  args: string[],
  { cwd, timeoutMs = 60_000 }: { cwd?: string; timeoutMs?: number } = {},
): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((done) => {
    const child = spawn(command, args, {
      ...(cwd && { cwd }),
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, NODE_LLAMA_CPP_SKIP_DOWNLOAD: 'true' },
    })
    let out = ''
    let err = ''
    child.stdout.on('data', (b) => (out += b))
    child.stderr.on('data', (b) => (err += b))
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
    child.on('exit', (code) => {
      clearTimeout(timer)
      done({ code, out, err })
    })
  })
}
