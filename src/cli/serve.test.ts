import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ATTESTATION_VECTORS } from '../../attestation/testing/vectors.js';
import { NoTeeError } from '../tee/provider.js';
import { loadOrCreateDevChain } from '../tee/sim/devChain.js';
import { evidenceCommand } from './evidence.js';
import { processIo } from './io.js';
import { serveCommand } from './serve.js';

const stateDir = mkdtempSync(join(tmpdir(), 'cloister-cli-state-'));
const previous = process.env.CLOISTER_STATE_DIR;
before(async () => {
  process.env.CLOISTER_STATE_DIR = stateDir;
  await loadOrCreateDevChain(stateDir, { product: 'Milan', tcb: { bootloader: 4, tee: 0, snp: 24, microcode: 219 }, hwId: new Uint8Array(64).fill(1) }, 2048);
});
after(() => {
  if (previous === undefined) delete process.env.CLOISTER_STATE_DIR;
  else process.env.CLOISTER_STATE_DIR = previous;
});

function io(): { io: typeof processIo; out: () => string } {
  let text = '';
  return { io: { ...processIo, stdout: (t) => (text += t), stderr: (t) => (text += t) }, out: () => text };
}

describe('cloister serve', () => {
  it('serves on the simulated TEE and says so', async () => {
    const c = io();
    let close: (() => Promise<void>) | undefined;
    let url = '';
    const code = await serveCommand(['--simulated', '--port', '0'], c.io, { stopSignal: (fn) => (close = fn), onListening: (u) => (url = u) });
    assert.equal(code, 0, c.out());
    assert.match(c.out(), /SIMULATED TEE/);
    const status = (await (await fetch(`${url}/status`)).json()) as { simulated: boolean; tee: string };
    assert.equal(status.simulated, true);
    assert.ok(close);
    await close();
  });

  it('serves simulated TDX with cached collateral in its bundles', async () => {
    const c = io();
    let close: (() => Promise<void>) | undefined;
    let url = '';
    const collateral = join(ATTESTATION_VECTORS, 'dcap-qvl/tdx_quote_collateral.json');
    const code = await serveCommand(['--simulated', '--platform', 'tdx', '--port', '0', '--collateral', collateral], c.io, { stopSignal: (fn) => (close = fn), onListening: (u) => (url = u) });
    assert.equal(code, 0, c.out());
    const index = (await (await fetch(`${url}/.well-known/cloister/evidence`)).json()) as { platform: string; bundles: { href: string; freshUntil: string }[] };
    assert.equal(index.platform, 'tdx');
    const first = index.bundles[0];
    assert.ok(first);
    assert.equal(first.freshUntil, '2025-07-19T10:16:03.000Z', 'the collateral nextUpdate bounds freshness');
    const bundle = (await (await fetch(`${url}${first.href}`)).json()) as { collateral?: { tcb_info?: string } };
    assert.ok(bundle.collateral?.tcb_info);
    assert.ok(close);
    await close();
    const bad = io();
    assert.equal(await serveCommand(['--simulated', '--platform', 'tdx', '--collateral', '/nonexistent.json'], bad.io), 2);
    assert.match(bad.out(), /UNREADABLE_INPUT/);
  });

  it('looks only where --source says', { skip: existsSync('/dev/sev-guest') ? 'this machine has a real /dev/sev-guest' : false }, async () => {
    const c = io();
    assert.equal(await serveCommand(['--source', 'sev-guest', '--port', '0'], c.io), 2);
    assert.match(c.out(), /NO_TEE.*looked for: sev-guest \/dev\/sev-guest: missing\)/);
  });

  it('refuses to start without a TEE and says what it looked for', async () => {
    const c = io();
    const code = await serveCommand([], c.io, { hardware: () => Promise.reject(new NoTeeError(['/sys/kernel/config/tsm/report: missing', '/dev/sev-guest: missing'])) });
    assert.equal(code, 2);
    assert.match(c.out(), /NO_TEE.*\/sys\/kernel\/config\/tsm\/report: missing; \/dev\/sev-guest: missing.*--simulated/);
  });

  it('rejects bad options with one line', async () => {
    for (const args of [['--port', 'x'], ['--simulated', '--product', 'Naples'], ['--product', 'Milan'], ['--bogus'], ['--source', 'bogus'], ['--simulated', '--source', 'sev-guest']]) {
      const c = io();
      assert.equal(await serveCommand(args, c.io), 2);
      assert.equal(c.out().trimEnd().split('\n').length, 1, c.out());
    }
  });
});

describe('cloister evidence', () => {
  it('writes a simulated bundle bound to the report data', async () => {
    const c = io();
    const out = join(stateDir, 'e.json');
    assert.equal(await evidenceCommand(['--simulated', '--report-data', 'ab'.repeat(64), '--out', out], c.io), 0, c.out());
    const bundle = JSON.parse(readFileSync(out, 'utf8')) as { simulated: boolean; evidence: string };
    assert.equal(bundle.simulated, true);
    assert.equal(Buffer.from(bundle.evidence, 'base64').subarray(0x50, 0x90).toString('hex'), 'ab'.repeat(64));
    assert.match(c.out(), /SIMULATED TEE/);
  });

  it('rejects bad options and a missing TEE with one line', async () => {
    for (const args of [['--simulated', '--report-data', 'abc'], ['--simulated', '--report-version', '4'], ['--product', 'Milan'], []]) {
      const c = io();
      assert.equal(await evidenceCommand(args, c.io), 2);
      assert.equal(c.out().trimEnd().split('\n').length, 1, c.out());
    }
  });
});
