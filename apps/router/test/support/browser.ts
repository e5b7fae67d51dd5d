import { existsSync } from 'node:fs'
import { type Browser, chromium } from 'playwright-core'

const CANDIDATES = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome']

/**
 * The system's Chromium (Debian's `chromium` package): `INFRAXA_CHROMIUM`, else the usual paths.
 * Missing, it fails loudly with how to install it (`.ci/run` installs it with apt).
 */
export function chromiumPath(): string {
  const path = process.env.INFRAXA_CHROMIUM ?? CANDIDATES.find((p) => existsSync(p))
  if (path === undefined || !existsSync(path))
    throw new Error(
      `no Chromium found (${process.env.INFRAXA_CHROMIUM ?? CANDIDATES.join(', ')}): install it with ` +
        '`apt-get install chromium` or set INFRAXA_CHROMIUM to its path',
    )
  return path
}

/** Headless Chromium driven by playwright-core; a fresh temporary profile (playwright's own). */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: chromiumPath(),
    headless: true,
    args: [
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  })
}
