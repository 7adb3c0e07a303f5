// The image boot test (issue 15): boots the test variant (build/image/test: vmlinuz, initramfs.cpio.gz,
// cmdline.txt with cloister.simulated=1) in QEMU with user networking and the guest's port 8080 forwarded to
// a loopback port, streams the serial console to a log file, waits for GET /status, then runs the full client
// path on the host: `cloister relay` to the VM's gateway and `cloister request` of a receipt PNG through it
// (the OCR text is checked), fetches the evidence bundle the VM serves and verifies it with
// `cloister verify-evidence --trust-simulated`, and stops QEMU. KVM first (accel auto), TCG when KVM fails.
//
// Trusting the simulated TEE: the VM creates its own development root at first use, in its tmpfs; the host's
// --trust-simulated reads roots from $CLOISTER_STATE_DIR. The test fetches the VM's evidence bundle, takes
// the self-signed root at the end of its certificate chain (the simulated ARK) and stores it in a fresh state
// directory that the host commands use. That is trust on first use of a development root, as --trust-simulated
// always is; what the test checks is that the client path (RA-TLS, OHTTP through a relay, evidence chain and
// report signature) works against the image.
import { spawn, type ChildProcess } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { createWriteStream, existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { request as httpsRequest } from 'node:https';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { REPO_ROOT } from './buildInit.js';

export const BOOT_TEST_HELP = `Usage: node dist/scripts/image/bootTest.js [options]

Boot the image's test variant in QEMU, wait until the server answers on a forwarded loopback port, make
one OCR request through a relay with \`cloister request --trust-simulated\`, verify the VM's evidence
with \`cloister verify-evidence --trust-simulated\`, and stop the VM. Prints boot-to-ready seconds.

Options:
  --image DIR        the image (vmlinuz, initramfs.cpio.gz, cmdline.txt; default build/image/test)
  --accel NAME       auto (KVM, then TCG if KVM is missing or fails), kvm or tcg (default auto)
  --memory MB        guest memory (default 2048)
  --cpus N           guest vCPUs (default 2)
  --cpu MODEL        QEMU CPU model (default: host with KVM, qemu64 with TCG; -cpu max panics under TCG)
  --png FILE         the receipt image to recognise (default: rendered with Chromium)
  --expect TEXT      a word the recognised text must contain; repeatable (default COFFEE, TOTAL)
  --ready-timeout S  seconds to wait for the server (default 300)
  --log FILE         the serial console log (default DIR/../boot-test.log, beside the image, not in it)
  -h, --help         show this help
`;

const CLI = join(REPO_ROOT, 'dist', 'src', 'cli', 'main.js');
const GUEST_PORT = 8080;
const RECEIPT_LINES = ['COFFEE 3.20', 'BAGEL 2.75', 'TOTAL 5.95'];
// Small, so that text detection under TCG stays well inside the gateway's 25 s target deadline.
const RECEIPT_SIZE = { width: 360, height: 184, fontSize: 24 } as const;
const KVM_FAILURE = /KVM internal error|emulation failure|kvm run failed|failed to initialize kvm|Could not access KVM/i;
const REQUEST_TIMEOUT_MS = 300_000;
const COMMAND_TIMEOUT_MS = 60_000;
const REQUEST_RETRIES = 3;
const RELAY_TIMEOUT_S = 120;

export class BootTestError extends Error {
  readonly code = 'BOOT_TEST_FAILED';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

export interface BootTestOptions {
  readonly image: string;
  readonly accel: 'auto' | 'kvm' | 'tcg';
  readonly memoryMb: number;
  readonly cpus: number;
  readonly cpu?: string;
  readonly png?: string;
  readonly expect: readonly string[];
  readonly readyTimeoutS: number;
  readonly log: string;
  readonly say: (line: string) => void;
}

export interface BootTestResult {
  readonly accel: 'kvm' | 'tcg';
  readonly bootToReadySeconds: number;
  readonly requestSeconds: number;
  readonly recognised: string;
  readonly evidenceVerified: boolean;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A free loopback TCP port (bound and released; a race with other processes is possible, and then QEMU says so). */
export async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => { resolvePort(port); });
    });
  });
}

/** GET over HTTPS without authenticating the server: only for readiness and for evidence, which carries its own signatures. */
function insecureGet(url: string, timeoutMs: number): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolveGet, reject) => {
    const req = httpsRequest(url, { method: 'GET', rejectUnauthorized: false, timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => { resolveGet({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }); });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${url}: no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}

interface Vm {
  readonly child: ChildProcess;
  readonly exited: Promise<number | null>;
  readonly console: () => string;
}

function startVm(options: BootTestOptions, accel: 'kvm' | 'tcg', cmdline: string, port: number): Vm {
  const args = [
    '-machine', 'q35', '-accel', accel, '-cpu', options.cpu ?? (accel === 'kvm' ? 'host' : 'qemu64'), '-m', String(options.memoryMb), '-smp', String(options.cpus),
    '-display', 'none', '-monitor', 'none', '-serial', 'stdio', '-no-reboot',
    '-kernel', join(options.image, 'vmlinuz'), '-initrd', join(options.image, 'initramfs.cpio.gz'), '-append', cmdline,
    '-netdev', `user,id=n,hostfwd=tcp:127.0.0.1:${port}-:${GUEST_PORT}`, '-device', 'virtio-net-pci,netdev=n',
  ];
  const child = spawn('qemu-system-x86_64', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const log = createWriteStream(options.log, { flags: 'a' });
  log.write(`# qemu-system-x86_64 ${args.join(' ')}\n`);
  let tail = '';
  const keep = (chunk: Buffer): void => {
    log.write(chunk);
    tail = (tail + chunk.toString('utf8')).slice(-16_384);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const exited = new Promise<number | null>((resolveExit) => {
    child.on('error', (e) => {
      keep(Buffer.from(`qemu: ${e.message}\n`));
      resolveExit(-1);
    });
    child.on('exit', (code) => {
      log.end();
      resolveExit(code);
    });
  });
  return { child, exited, console: () => tail };
}

async function stopVm(vm: Vm): Promise<void> {
  if (vm.child.exitCode !== null || vm.child.signalCode !== null) return;
  vm.child.kill('SIGTERM');
  const done = await Promise.race([vm.exited.then(() => true), sleep(10_000).then(() => false)]);
  if (!done) vm.child.kill('SIGKILL');
}

/** Polls GET /status until it answers 200; undefined when QEMU exits or the console shows a KVM failure first. */
async function waitReady(vm: Vm, port: number, timeoutS: number): Promise<{ status: Record<string, unknown> } | { failed: string }> {
  const deadline = Date.now() + timeoutS * 1000;
  const state = { exited: false };
  void vm.exited.then(() => {
    state.exited = true;
  });
  while (Date.now() < deadline) {
    if (state.exited) return { failed: `QEMU exited before the server was ready (${lastLine(vm.console())})` };
    if (KVM_FAILURE.test(vm.console())) return { failed: 'KVM failed' };
    try {
      const { status, body } = await insecureGet(`https://127.0.0.1:${port}/status`, 3000);
      if (status === 200) return { status: JSON.parse(body.toString('utf8')) as Record<string, unknown> };
    } catch {
      // not up yet
    }
    await sleep(1000);
  }
  return { failed: `the server did not answer GET /status within ${timeoutS} s (${lastLine(vm.console())})` };
}

const lastLine = (text: string): string => text.trim().split('\n').filter((l) => l.trim() !== '').slice(-1)[0]?.trim().slice(0, 200) ?? 'no console output';

interface Ran {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `cloister ARGS` to completion with a timeout. */
function cloister(args: readonly string[], env: NodeJS.ProcessEnv, timeoutMs: number): Promise<Ran> {
  return new Promise((resolveRun) => {
    const child = spawn(process.execPath, [CLI, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'], timeout: timeoutMs, killSignal: 'SIGKILL' });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
    child.on('error', (e) => { resolveRun({ code: -1, stdout, stderr: e.message }); });
    child.on('close', (code) => { resolveRun({ code, stdout, stderr }); });
  });
}

/** Starts `cloister relay` on a free port and waits until it accepts connections. */
async function startRelay(gatewayPort: number, env: NodeJS.ProcessEnv): Promise<{ child: ChildProcess; url: string }> {
  const port = await freePort();
  const child = spawn(process.execPath, [CLI, 'relay', '--gateway', `https://127.0.0.1:${gatewayPort}`, '--port', String(port), '--timeout', String(RELAY_TIMEOUT_S)], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (c: Buffer) => (output += c.toString('utf8')));
  child.stderr.on('data', (c: Buffer) => (output += c.toString('utf8')));
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new BootTestError(`cloister relay exited with ${child.exitCode}: ${lastLine(output)}`);
    const up = await new Promise<boolean>((r) => {
      const probe = createServer();
      probe.once('error', () => { r(true); });
      probe.listen(port, '127.0.0.1', () => probe.close(() => { r(false); }));
    });
    if (up) return { child, url: `http://127.0.0.1:${port}/default` };
    await sleep(200);
  }
  child.kill('SIGKILL');
  throw new BootTestError(`cloister relay did not listen on 127.0.0.1:${port} within 30 s`);
}

/** The self-signed root at the end of the bundle's chain, stored where --trust-simulated looks (SEV-SNP). */
async function trustVmRoot(bundle: { platform?: unknown; certificates?: unknown }, stateDir: string): Promise<string> {
  if (bundle.platform !== 'sev-snp') throw new BootTestError(`the VM's evidence is for platform ${String(bundle.platform)}; the boot test trusts only a simulated SEV-SNP root`);
  const certs = Array.isArray(bundle.certificates) ? bundle.certificates.filter((c): c is string => typeof c === 'string') : [];
  const root = certs.map((b64) => new X509Certificate(Buffer.from(b64, 'base64'))).find((c) => c.subject === c.issuer && c.checkIssued(c));
  if (root === undefined) throw new BootTestError('the VM\'s evidence bundle carries no self-signed root certificate');
  const product = /CN=ARK-([A-Za-z]+)/.exec(root.subject)?.[1];
  if (product === undefined) throw new BootTestError(`the VM's root is not a simulated ARK: ${root.subject.replace(/\n/g, ', ')}`);
  const dir = join(stateDir, 'dev-root', product.toLowerCase());
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'ark.pem'), root.toString());
  return `${product} ARK, SHA-256 fingerprint ${root.fingerprint256}`;
}

async function receiptPng(options: BootTestOptions, work: string): Promise<string> {
  if (options.png !== undefined) return options.png;
  const { renderTextImages } = await import('../../src/testing/renderText.js');
  let png: Uint8Array | undefined;
  try {
    [png] = await renderTextImages([RECEIPT_LINES], RECEIPT_SIZE);
  } catch (e) {
    throw new BootTestError(`could not render the receipt with Chromium (${(e as Error).message.split('\n')[0] ?? ''}); pass --png FILE and --expect WORD`, { cause: e });
  }
  if (png === undefined) throw new BootTestError('Chromium rendered no receipt image');
  const file = join(work, 'receipt.png');
  await writeFile(file, png);
  return file;
}

/** Boots, serves one request through a relay, verifies the VM's evidence, stops the VM. */
export async function bootTest(options: BootTestOptions): Promise<BootTestResult> {
  const major = Number(process.versions.node.split('.')[0]);
  if (major < 24) throw new BootTestError(`Node ${process.versions.node} runs the boot test; the cloister CLI needs Node 24 or later (PATH=node_modules/.bin:$PATH)`);
  for (const f of ['vmlinuz', 'initramfs.cpio.gz', 'cmdline.txt']) {
    if (!existsSync(join(options.image, f))) throw new BootTestError(`${join(options.image, f)} is missing: build the image first (npm run image)`);
  }
  const cmdline = (await readFile(join(options.image, 'cmdline.txt'), 'utf8')).trim();
  if (!cmdline.split(/\s+/).includes('cloister.simulated=1')) throw new BootTestError(`${join(options.image, 'cmdline.txt')} lacks cloister.simulated=1: the boot test needs the test variant`);
  const work = await mkdtemp(join(tmpdir(), 'cloister-boot-test-'));
  await writeFile(options.log, '');
  const env: NodeJS.ProcessEnv = { ...process.env, CLOISTER_STATE_DIR: join(work, 'state') };
  let vm: Vm | undefined;
  let relay: ChildProcess | undefined;
  try {
    const png = await receiptPng(options, work);
    const accels: ('kvm' | 'tcg')[] = options.accel === 'auto' ? (existsSync('/dev/kvm') ? ['kvm', 'tcg'] : ['tcg']) : [options.accel];
    let ready: { accel: 'kvm' | 'tcg'; port: number; seconds: number } | undefined;
    for (const accel of accels) {
      const port = await freePort();
      options.say(`booting ${options.image} with ${accel} (console: ${options.log}), gateway on 127.0.0.1:${port}`);
      const started = performance.now();
      vm = startVm(options, accel, cmdline, port);
      const result = await waitReady(vm, port, options.readyTimeoutS);
      if ('status' in result) {
        if (result.status.simulated !== true) throw new BootTestError('the VM\'s /status does not say simulated: true');
        ready = { accel, port, seconds: (performance.now() - started) / 1000 };
        break;
      }
      await stopVm(vm);
      if (accel === 'kvm' && accels.length > 1) options.say(`KVM did not work (${result.failed}); falling back to TCG`);
      else throw new BootTestError(result.failed);
    }
    if (ready === undefined || vm === undefined) throw new BootTestError('no accelerator booted the image');
    options.say(`ready after ${ready.seconds.toFixed(1)} s (${ready.accel})`);

    const index = await insecureGet(`https://127.0.0.1:${ready.port}/.well-known/cloister/evidence`, 30_000);
    const href = (JSON.parse(index.body.toString('utf8')) as { bundles?: { href?: string }[] }).bundles?.[0]?.href;
    if (index.status !== 200 || href === undefined) throw new BootTestError(`GET /.well-known/cloister/evidence answered ${index.status} without a bundle`);
    const bundleBytes = await insecureGet(`https://127.0.0.1:${ready.port}${href}`, 30_000);
    if (bundleBytes.status !== 200) throw new BootTestError(`GET ${href} answered ${bundleBytes.status}`);
    const evidenceFile = join(work, 'evidence.json');
    await writeFile(evidenceFile, bundleBytes.body);
    const trusted = await trustVmRoot(JSON.parse(bundleBytes.body.toString('utf8')) as { platform?: unknown; certificates?: unknown }, join(work, 'state'));
    options.say(`trusting the VM's simulated root for this test only: ${trusted}`);

    const started = await startRelay(ready.port, env);
    relay = started.child;
    const requestStart = performance.now();
    let answer = await cloister(['request', png, '--trust-simulated', '--relay', started.url], env, REQUEST_TIMEOUT_MS);
    // Under TCG the first recognition can outlast the gateway's 25 s target deadline (504); the next is warm.
    for (let retry = 1; retry <= REQUEST_RETRIES && answer.code === 1 && /\b504\b/.test(answer.stderr); retry++) {
      options.say(`the gateway answered 504 (inference slower than its deadline, as under TCG); retry ${retry} of ${REQUEST_RETRIES}`);
      answer = await cloister(['request', png, '--trust-simulated', '--relay', started.url], env, REQUEST_TIMEOUT_MS);
    }
    const requestSeconds = (performance.now() - requestStart) / 1000;
    if (answer.code !== 0) throw new BootTestError(`cloister request exited with ${answer.code}: ${lastLine(answer.stderr || answer.stdout)}`);
    const recognised = answer.stdout.trim();
    const missing = options.expect.filter((w) => !recognised.toUpperCase().replace(/\s+/g, ' ').includes(w.toUpperCase()));
    if (missing.length > 0) throw new BootTestError(`the recognised text lacks ${missing.join(', ')}: ${JSON.stringify(recognised.slice(0, 200))}`);
    options.say(`request through the relay answered in ${requestSeconds.toFixed(1)} s: ${JSON.stringify(recognised.replace(/\s+/g, ' ').slice(0, 120))}`);

    const verified = await cloister(['verify-evidence', evidenceFile, '--trust-simulated'], env, COMMAND_TIMEOUT_MS);
    if (verified.code !== 0) throw new BootTestError(`cloister verify-evidence exited with ${verified.code}: ${lastLine(verified.stderr || verified.stdout)}`);
    options.say(`evidence from the VM verified: ${lastLine(verified.stdout)}`);
    return { accel: ready.accel, bootToReadySeconds: ready.seconds, requestSeconds, recognised, evidenceVerified: true };
  } finally {
    relay?.kill('SIGTERM');
    if (vm !== undefined) await stopVm(vm);
    await rm(work, { recursive: true, force: true });
  }
}

function positive(text: string | undefined, fallback: number, name: string): number {
  if (text === undefined) return fallback;
  if (!/^\d+$/.test(text) || Number(text) < 1) throw new BootTestError(`--${name} must be a positive whole number, got "${text}"`);
  return Number(text);
}

async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      image: { type: 'string' }, accel: { type: 'string' }, memory: { type: 'string' }, cpus: { type: 'string' }, cpu: { type: 'string' }, png: { type: 'string' },
      expect: { type: 'string', multiple: true }, 'ready-timeout': { type: 'string' }, log: { type: 'string' }, help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help === true) {
    process.stdout.write(BOOT_TEST_HELP);
    return 0;
  }
  const accel = values.accel ?? 'auto';
  if (accel !== 'auto' && accel !== 'kvm' && accel !== 'tcg') throw new BootTestError(`--accel must be auto, kvm or tcg, got "${accel}"`);
  const image = resolve(values.image ?? join(REPO_ROOT, 'build', 'image', 'test'));
  const say = (line: string): void => void process.stdout.write(`boot-test: ${line}\n`);
  const result = await bootTest({
    image, accel, say,
    memoryMb: positive(values.memory, 2048, 'memory'),
    cpus: positive(values.cpus, 2, 'cpus'),
    ...(values.png === undefined ? {} : { png: resolve(values.png) }),
    ...(values.cpu === undefined ? {} : { cpu: values.cpu }),
    expect: values.expect ?? (values.png === undefined ? ['COFFEE', 'TOTAL'] : []),
    readyTimeoutS: positive(values['ready-timeout'], 300, 'ready-timeout'),
    log: resolve(values.log ?? join(image, '..', 'boot-test.log')),
  });
  say(`PASS: boot-to-ready ${result.bootToReadySeconds.toFixed(1)} s (${result.accel}), OCR request ${result.requestSeconds.toFixed(1)} s, evidence verified`);
  return 0;
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).then(
    (code) => (process.exitCode = code),
    (e: unknown) => {
      process.stderr.write(`boot-test: FAIL: ${e instanceof Error ? e.message : String(e)}\n`);
      process.exitCode = 1;
    },
  );
}
