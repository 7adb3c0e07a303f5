// Test support: one page of headless Chromium driven over the DevTools protocol (Node's WebSocket), on the real
// clock: navigate, wait for an expression to hold, read the DOM, give a file input files (as a drop would), write a
// screenshot of the page as it is, and list every URL the page requested. For pages whose state a test reads more than once, or photographs;
// attestation/testing/chromium.ts's pageResult and pagePosted suit pages that compute one result.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { CHROMIUM } from '../../attestation/testing/chromium.js';

interface Reply {
  readonly id?: number;
  readonly method?: string;
  readonly params?: { readonly request?: { readonly url?: string } };
  readonly result?: Record<string, unknown>;
  readonly error?: { readonly message: string };
}

export class ChromiumPage {
  readonly #chromium: ChildProcess;
  readonly #socket: WebSocket;
  readonly #pending = new Map<number, { resolve: (r: Record<string, unknown>) => void; reject: (e: Error) => void }>();
  #next = 0;
  /** Every URL the page requested, in order (Network.requestWillBeSent). */
  readonly requests: string[] = [];

  private constructor(chromium: ChildProcess, socket: WebSocket) {
    this.#chromium = chromium;
    this.#socket = socket;
    socket.addEventListener('message', (event) => {
      const reply = JSON.parse(String(event.data)) as Reply;
      if (reply.method === 'Network.requestWillBeSent' && reply.params?.request?.url !== undefined) this.requests.push(reply.params.request.url);
      if (reply.id === undefined) return;
      const waiting = this.#pending.get(reply.id);
      this.#pending.delete(reply.id);
      if (reply.error !== undefined) waiting?.reject(new Error(reply.error.message));
      else waiting?.resolve(reply.result ?? {});
    });
  }

  /** Starts Chromium with a blank page of `width` x `height` CSS pixels. */
  static async open(width = 1000, height = 1400): Promise<ChromiumPage> {
    const profile = mkdtempSync(join(tmpdir(), 'cloister-chromium-'));
    const chromium = spawn(
      CHROMIUM,
      ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--hide-scrollbars', `--window-size=${width},${height}`, `--user-data-dir=${profile}`, '--remote-debugging-port=0', 'about:blank'],
      { stdio: 'ignore' },
    );
    let port: string | undefined;
    for (let i = 0; i < 200 && port === undefined; i++) {
      try {
        port = readFileSync(join(profile, 'DevToolsActivePort'), 'utf8').split('\n')[0];
      } catch {
        await sleep(50);
      }
    }
    if (port === undefined) {
      chromium.kill('SIGKILL');
      throw new Error('Chromium did not open its DevTools port');
    }
    const targets = (await (await fetch(`http://127.0.0.1:${port}/json/list`)).json()) as { type: string; webSocketDebuggerUrl: string }[];
    const target = targets.find((t) => t.type === 'page');
    if (target === undefined) throw new Error('Chromium has no page');
    const socket = new WebSocket(target.webSocketDebuggerUrl);
    await new Promise((resolve, reject) => {
      socket.addEventListener('open', resolve);
      socket.addEventListener('error', reject);
    });
    const page = new ChromiumPage(chromium, socket);
    await page.send('Emulation.setDeviceMetricsOverride', { width, height, deviceScaleFactor: 1, mobile: false });
    await page.send('Network.enable');
    return page;
  }

  send(method: string, params: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
    const id = ++this.#next;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      this.#socket.send(JSON.stringify({ id, method, params }));
    });
  }

  /** Loads `url` and waits until its document has loaded. */
  async navigate(url: string): Promise<void> {
    await this.send('Page.navigate', { url });
    await this.waitFor(`location.href === ${JSON.stringify(url)} && document.readyState === 'complete'`);
  }

  /** The value of `expression` in the page (JSON-serializable); a thrown exception rejects. */
  async evaluate<T>(expression: string): Promise<T> {
    const r = (await this.send('Runtime.evaluate', { expression, returnByValue: true, awaitPromise: true })) as { result: { value?: T }; exceptionDetails?: { text: string; exception?: { description?: string } } };
    if (r.exceptionDetails !== undefined) throw new Error(`${r.exceptionDetails.text} ${r.exceptionDetails.exception?.description ?? ''}`);
    return r.result.value as T;
  }

  /** Waits until `expression` is truthy in the page, polling; rejects after `timeoutMs`. */
  async waitFor(expression: string, timeoutMs = 60_000): Promise<void> {
    const until = Date.now() + timeoutMs;
    while (Date.now() < until) {
      if (await this.evaluate<boolean>(`Boolean(${expression})`).catch(() => false)) return;
      await sleep(100);
    }
    throw new Error(`the page never satisfied ${expression} within ${timeoutMs} ms`);
  }

  /** Gives the file input `selector` these files, which fires its change event as a choice or a drop would. */
  async setFiles(selector: string, files: readonly string[]): Promise<void> {
    const { root } = (await this.send('DOM.getDocument')) as { root: { nodeId: number } };
    const { nodeId } = (await this.send('DOM.querySelector', { nodeId: root.nodeId, selector })) as { nodeId: number };
    await this.send('DOM.setFileInputFiles', { nodeId, files });
  }

  /** A PNG of the whole page as it is now. */
  async screenshot(path: string): Promise<void> {
    const { data } = (await this.send('Page.captureScreenshot', { format: 'png', captureBeyondViewport: true })) as { data: string };
    writeFileSync(path, Buffer.from(data, 'base64'));
  }

  close(): void {
    this.#socket.close();
    this.#chromium.kill('SIGKILL');
  }
}
