import { ListenError } from './errors.js'

/**
 * libp2p's UnsupportedListenAddressesError as a {@link ListenError}: its message lists each address
 * with the system error and that error's stack, and tells the user to change a setting of libp2p's own.
 */
export function listenFailure(error: unknown): ListenError | undefined {
  if ((error as Error | null)?.name !== 'UnsupportedListenAddressesError') return undefined
  const failures: Array<{ address: string; reason: string }> = []
  for (const line of (error as Error).message.split('\n')) {
    const match = /^\s*(\/\S+): (?:\w*Error: )?(?:listen )?(.+)$/.exec(line)
    if (match) failures.push({ address: match[1]!, reason: match[2]!.trim() })
  }
  return new ListenError(failures, { cause: error })
}
