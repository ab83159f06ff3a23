/**
 * A headless Chromium for the console tests, driven by playwright-core (which
 * never downloads a browser). The browser is the system's: CASPARIAN_CHROMIUM
 * if set, else Debian's /usr/bin/chromium or another usual path; without one
 * the test fails saying what to install.
 */
import * as fs from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

const CANDIDATES = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome', '/usr/bin/google-chrome-stable'];

export function chromiumPath(): string {
  const env = process.env.CASPARIAN_CHROMIUM;
  if (env) {
    if (!fs.existsSync(env)) throw new Error(`CASPARIAN_CHROMIUM=${env}: no such file`);
    return env;
  }
  const found = CANDIDATES.find((p) => fs.existsSync(p));
  if (!found) {
    throw new Error(
      `the console tests need a Chromium and found none (looked at ${CANDIDATES.join(', ')}): install the OS package ` +
        '(Debian/Ubuntu: apt-get install chromium) or point CASPARIAN_CHROMIUM at a Chromium or Chrome binary',
    );
  }
  return found;
}

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: chromiumPath(),
    headless: true,
    args: ['--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-quic'],
  });
}
