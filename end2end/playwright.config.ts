import { defineConfig } from '@playwright/test';
import { MASTER_KEY, PORT } from './tests/fixtures';

// Debian's Chromium, never a downloaded browser. Background networking is off: the machine
// has no internet, and Chromium's own calls home would only fail noisily.
export default defineConfig({
  testDir: './tests',
  timeout: 60_000,
  expect: { timeout: 15_000 },
  workers: 1,
  reporter: [['list']],
  use: {
    baseURL: `http://127.0.0.1:${PORT}`,
    browserName: 'chromium',
    launchOptions: {
      executablePath: '/usr/bin/chromium',
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    },
    trace: 'retain-on-failure',
  },
  // `*.phone.spec.ts` runs on a 360 px wide touch screen; everything else at desktop size.
  projects: [
    { name: 'desktop', testIgnore: /\.phone\.spec\.ts$/ },
    { name: 'phone', testMatch: /\.phone\.spec\.ts$/, use: { viewport: { width: 360, height: 740 }, isMobile: true, hasTouch: true } },
  ],
  webServer: {
    command: `sh ./start-hearth.sh ${PORT}`,
    url: `http://127.0.0.1:${PORT}/healthz`,
    reuseExistingServer: false,
    timeout: 60_000,
    env: { E2E_MASTER_KEY: MASTER_KEY },
    stdout: 'pipe',
    stderr: 'pipe',
  },
});
